"""How far LOM's SARSA critic Q_psi is from the data's returns, and Q_phi from Q_psi.

    .venv/bin/python experiments/2026-11-27-lom-critic-fit/lom_critic_fit.py runs/greedy-hmr/runs/hopper-medium-replay/lom

Eq. 16 fits Q_psi to Q of the behaviour policy. On the dataset's own (s, a), the return
that followed, G_t = sum_k gamma^k r_{t+k} within the episode, is one sample of it, so
at convergence Q_psi(s_t, a_t) and G_t agree on average over the rows and per group
of rows sorted by G. Rows count where G_t is known: the episode ends in a terminal, or
runs on for at least --horizon more steps (the tail left out is at most gamma^horizon
of the value). Printed per seed: mean G and mean Q_psi over those rows, their ratio,
their correlation, and the ratio in each fifth of the rows sorted by G (the top fifth:
the best behaviour in the data, what the hyper-Q's ranking has to recognise).

Then the hyper-Q against its own target (Eq. 17): on --probe dataset states, Q_phi(s, u)
beside E_{a ~ phi_u} Q_psi(s, a) estimated with --samples draws per component, scored
as lom_hyper_q_samples.py scores it: the hyper-Q's error over every component (rmse),
how often Eq. 7's pick under it is the pick under E Q_psi (agree), and the E Q_psi its
pick gives up (regret); also how many components Eq. 7 may pick per state.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import sys
from pathlib import Path

# lom_hyper_q_samples.py lives in its own experiment's folder
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "2026-11-27-hyper-q-samples"))
from lom_hyper_q_samples import hyper_q_scores  # noqa: E402

from onemode.algos import lom
from onemode.algos.critics import q_value
from onemode.targets import load_data
from onemode.policy import load_run


def discounted_returns(dataset, discount: float, horizon: int):
    """G_t per row, and where it is known (terminal ahead, or >= horizon steps left)."""
    returns = np.zeros(len(dataset))
    known = np.zeros(len(dataset), bool)
    for episode in dataset.episode_slices:
        rewards = dataset.rewards[episode].astype(np.float64)
        running = 0.0
        for offset in range(len(rewards) - 1, -1, -1):
            running = rewards[offset] + discount * running
            returns[episode.start + offset] = running
        ends_in_terminal = bool(dataset.terminals[episode.stop - 1])
        steps_left = np.arange(len(rewards), 0, -1)
        known[episode] = ends_in_terminal | (steps_left >= horizon)
    return returns, known


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory")
    parser.add_argument("--horizon", type=int, default=500)
    parser.add_argument("--rows", type=int, default=50_000, help="rows evaluated, evenly spaced")
    parser.add_argument("--probe", type=int, default=5_000, help="states for the hyper-Q check")
    parser.add_argument("--samples", type=int, default=256,
                        help="draws per component for E Q_psi, a multiple of 32")
    args = parser.parse_args()
    if args.samples < 32 or args.samples % 32:
        parser.error("--samples must be a multiple of 32")
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    dataset, _ = load_data(run.data_spec)
    discount = run.algo_config.discount
    returns, known = discounted_returns(dataset, discount, args.horizon)
    rows = np.flatnonzero(known)
    rows = rows[:: max(1, len(rows) // args.rows)]
    observations = jnp.asarray(run.stats.normalize(dataset.observations[rows]), jnp.float32)
    actions = jnp.asarray(dataset.actions[rows], jnp.float32)
    target = returns[rows]
    fifths = np.array_split(np.argsort(target), 5)
    print(f"{run.path}: {len(rows)} of {len(dataset)} rows with G known "
          f"(discount {discount}, horizon {args.horizon}), after {run.step} updates")
    print(f"{'seed':>4s} {'mean G':>8s} {'mean Q':>8s} {'Q/G':>6s} {'corr':>6s}   "
          "Q/G per fifth of rows by G (lowest .. highest)")
    for seed in range(len(run.train_config.seeds)):
        critic = run.seed_state(seed).critic
        values = np.asarray(q_value(critic, critic.params, observations, actions), np.float64)
        per_fifth = " ".join(f"{values[f].mean() / target[f].mean():5.2f}" for f in fifths)
        print(f"{seed:4d} {target.mean():8.1f} {values.mean():8.1f} "
              f"{values.mean() / target.mean():6.2f} {np.corrcoef(values, target)[0, 1]:6.2f}"
              f"   {per_fifth}", flush=True)
    hyper_q_fit(run, dataset, args.probe, args.samples)


def hyper_q_fit(run, dataset, n_probe: int, samples: int):
    """Q_phi against Monte-Carlo E Q_psi per component (lom_hyper_q_samples.py's scores)."""
    config = run.algo_config
    probe = dataset.observations[:: max(1, len(dataset) // n_probe)][:n_probe]
    observations = jnp.asarray(run.stats.normalize(probe), jnp.float32)
    print(f"hyper-Q on {len(probe)} states, E Q_psi from {samples} draws per component; "
          f"Eq. 7 over components with alpha >= {config.min_mode_weight}")
    print(f"{'seed':>4s} {'eligible':>8s} {'rmse':>6s} {'agree':>6s} {'regret':>7s}")
    for seed in range(len(run.train_config.seeds)):
        state = run.seed_state(seed)
        mixture = state.mdn.apply_fn(state.mdn.params, observations)
        truth = jnp.mean(jnp.stack([
            lom.mode_values(state.critic, observations, mixture, key, 32)
            for key in jax.random.split(jax.random.PRNGKey(seed), samples // 32)]), axis=0)
        rmse, agree, regret = hyper_q_scores(state.hyper_q, truth, mixture, observations,
                                             config.min_mode_weight)
        eligible = lom.eligible_modes(mixture, config.min_mode_weight)
        print(f"{seed:4d} {float(eligible.sum(-1).mean()):8.1f} {rmse:6.2f} {agree:6.1%} "
              f"{regret:7.2f}", flush=True)


if __name__ == "__main__":
    main()
