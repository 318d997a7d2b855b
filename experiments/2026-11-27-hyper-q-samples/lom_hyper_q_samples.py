"""How many Monte-Carlo samples per mode does LOM's hyper-Q target need (Eq. 17)?

    .venv/bin/python experiments/2026-11-27-hyper-q-samples/lom_hyper_q_samples.py RUN_DIR [--samples 1,10] [--updates 5000]

From one seed of a LOM run, the behaviour model and the critic Q_psi are frozen; a
fresh hyper-Q Q_phi per sample count K (same initialisation, same minibatches) then
learns Eq. 17's regression onto K-sample targets. On probe states of the dataset it
is scored against the mode values themselves, E_{a ~ phi_u(.|s)} Q_psi(s, a), taken
with --truth-samples samples:
  rmse      of Q_phi(s, u) over every mode
  agree     how often Eq. 7's greedy mode under Q_phi is the greedy mode of the truth
  regret    truth(s, greedy mode of the truth) - truth(s, greedy mode of Q_phi), mean
  updates/s of each K, in the same process
The run's own hyper-Q (trained alongside a moving critic) is scored the same way for
scale. With one sample the target is unbiased but noisier; this says what the noise
costs the mode ranking, which is all the actor uses of Q_phi.
"""

import argparse
import time
from functools import partial

import jax
import jax.numpy as jnp

from onemode.algos import lom
from onemode.targets import load_data
from onemode.policy import load_run


def hyper_q_scores(hyper_q, critic_truth, mixture, probe, min_mode_weight):
    """rmse, agreement and regret of Q_phi's greedy mode against the true mode values."""
    values = hyper_q.apply_fn(hyper_q.params, probe)
    picked = lom.greedy_mode(values, mixture, min_mode_weight)
    best = lom.greedy_mode(critic_truth, mixture, min_mode_weight)
    take = partial(jnp.take_along_axis, critic_truth, axis=1)
    regret = take(best[:, None])[:, 0] - take(picked[:, None])[:, 0]
    return (float(jnp.sqrt(jnp.mean((values - critic_truth) ** 2))),
            float(jnp.mean(picked == best)), float(jnp.mean(regret)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory")
    parser.add_argument("--seed-index", type=int, default=0, help="which of the run's seeds")
    parser.add_argument("--samples", default="1,10", help="comma-separated sample counts K")
    parser.add_argument("--updates", type=int, default=5_000)
    parser.add_argument("--report-every", type=int, default=1_000)
    parser.add_argument("--probe-states", type=int, default=512)
    parser.add_argument("--truth-samples", type=int, default=512,
                        help="samples per mode for the mode values the hyper-Qs are scored on")
    parser.add_argument("--key", type=int, default=0, help="seeds init, batches and samples")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    if args.updates % args.report_every:
        parser.error("--updates must be a multiple of --report-every")
    if args.truth_samples < 64 or args.truth_samples % 32:
        parser.error("--truth-samples must be a multiple of 32, at least 64")
    sample_counts = [int(k) for k in args.samples.split(",")]
    config = run.algo_config
    state = run.seed_state(args.seed_index)
    dataset, _ = load_data(run.data_spec)
    observations = jnp.asarray(run.stats.normalize(dataset.observations), jnp.float32)
    probe = observations[:: max(1, len(observations) // args.probe_states)][:args.probe_states]

    k_truth, k_init, k_train = jax.random.split(jax.random.PRNGKey(args.key), 3)
    probe_mixture = state.mdn.apply_fn(state.mdn.params, probe)
    truth_parts = [lom.mode_values(state.critic, probe, probe_mixture, key, 32)
                   for key in jax.random.split(k_truth, args.truth_samples // 32)]
    truth = jnp.mean(jnp.stack(truth_parts), axis=0)
    truth_error = float(jnp.mean(jnp.std(jnp.stack(truth_parts), axis=0))
                        / jnp.sqrt(len(truth_parts)))
    spread = float(jnp.mean(jnp.max(truth, 1) - jnp.min(truth, 1)))
    print(f"{run.path}, seed {run.train_config.seeds[args.seed_index]}, step {run.step}: "
          f"{len(probe)} probe states, mode values from {args.truth_samples} samples "
          f"(standard error {truth_error:.3f}; spread max - min over modes {spread:.2f})")
    scores = partial(hyper_q_scores, critic_truth=truth, mixture=probe_mixture, probe=probe,
                     min_mode_weight=config.min_mode_weight)
    rmse, agree, regret = scores(state.hyper_q)
    print(f"{'the run':>12s} {run.step:>8d} {rmse:8.3f} {agree:7.3f} {regret:8.3f}")
    print(f"{'K':>12s} {'updates':>8s} {'rmse':>8s} {'agree':>7s} {'regret':>8s} "
          f"{'updates/s':>10s}")

    fresh = lom.init(k_init, run.obs_dim, run.act_dim, config).hyper_q
    for n_samples in sample_counts:
        def one_update(hyper_q, key, n_samples=n_samples):
            k_rows, k_modes = jax.random.split(key)
            rows = jax.random.randint(k_rows, (config.batch_size,), 0, observations.shape[0])
            batch = observations[rows]
            mixture = state.mdn.apply_fn(state.mdn.params, batch)
            targets = lom.mode_values(state.critic, batch, mixture, k_modes, n_samples)
            return lom.update_hyper_q(state._replace(hyper_q=hyper_q), batch, targets)[0], None

        train = jax.jit(lambda hyper_q, keys: jax.lax.scan(one_update, hyper_q, keys)[0])
        hyper_q, keys = fresh, jax.random.split(k_train, args.updates)
        jax.block_until_ready(train(hyper_q, keys[:args.report_every]))   # compile
        seconds = 0.0
        for done in range(args.report_every, args.updates + 1, args.report_every):
            start = time.perf_counter()
            hyper_q = jax.block_until_ready(train(hyper_q, keys[done - args.report_every:done]))
            seconds += time.perf_counter() - start
            rmse, agree, regret = scores(hyper_q)
            print(f"{n_samples:>12d} {done:>8d} {rmse:8.3f} {agree:7.3f} {regret:8.3f} "
                  f"{done / seconds:10.1f}", flush=True)


if __name__ == "__main__":
    main()
