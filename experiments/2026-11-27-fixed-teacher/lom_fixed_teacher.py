"""Does LOM's actor trail its greedy mode because that teacher moves, or because of how it learns?

    .venv/bin/python experiments/2026-11-27-fixed-teacher/lom_fixed_teacher.py RUN_DIR --updates 20000

From one checkpoint of a LOM run, the behaviour model, critic and hyper-Q are frozen;
a fresh actor per seed (same sizes, same learning rate) then learns from that fixed
teacher for `--updates` minibatches of the run's dataset, once per imitation target:
  eq18       LOM's own actor update (Eq. 18 with the run's config): a_hat ~ phi_u*(s),
             weighted by exp_clip(A / beta)
  mode-mean  the picked component's mean mu_u*(s) itself, weight 1: no sampling, no weights
  nearer-of-two  of the two eligible modes valued highest, the mean nearer to the actor's
             own action, weight 1: where the pick switches between near-tied modes
             (`lom_imitation_gap.py`), the actor keeps to the one it is at
Each is scored as `lom_parts.py` scores the run's parts (same evaluation start states),
with its mean distance per action dimension from mu_u*(s) on 5,000 dataset states.
If a fresh eq18 actor on the frozen teacher lands where the trained actor did, the
teacher's movement during training is not what holds the actor back.
"""

import argparse
from functools import partial
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from onemode.algos import lom
from onemode.errors import ConfigError
from onemode.algos.gaussian import weighted_imitation
from onemode.algos.mixture import component_mean
from onemode.targets import load_data
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run, make_act

TARGETS = ("eq18", "mode-mean", "nearer-of-two")


def picked_component(state, observations, config):
    """mu_u*(s) and u* at each state (Eq. 7)."""
    report = lom.mode_report(state, observations, config)
    return component_mean(report["mixture"], report["best_mode"]), report


def nearer_of_two(state, observations, report, config):
    """Of the two eligible modes valued highest, the clipped mean nearer to the actor's
    action (the one mode where only one is eligible)."""
    mixture = report["mixture"]
    eligible = lom.eligible_modes(mixture, config.min_mode_weight)
    values, top_two = jax.lax.top_k(jnp.where(eligible, report["mode_values"], -jnp.inf), 2)
    means = jnp.clip(jnp.take_along_axis(mixture.means, top_two[..., None], axis=-2), -1, 1)
    action = lom.mean_action(state.actor, observations)
    distance = jnp.abs(means - action[..., None, :]).sum(axis=-1)
    distance = jnp.where(jnp.isfinite(values), distance, jnp.inf)
    return jax.lax.stop_gradient(
        jnp.take_along_axis(means, jnp.argmin(distance, axis=-1)[..., None, None],
                            axis=-2)[..., 0, :])


def train_actor(state, key, observations, act_dim: int, updates: int, target: str, config,
                teacher=picked_component):
    """A fresh actor trained `updates` times on the frozen teacher in `state`
    (`teacher(state, observations, config)` -> mu_u*(s), {"mixture", "best_mode"}, and
    "mode_values" for the nearer-of-two target)."""
    k_init, k_train = jax.random.split(key)
    fresh = lom.init(k_init, observations.shape[-1], act_dim, config).actor
    state = state._replace(actor=fresh)

    def one_update(state, key):
        k_rows, k_actor = jax.random.split(key)
        rows = jax.random.randint(k_rows, (config.batch_size,), 0, observations.shape[0])
        batch = observations[rows]
        mode_mean, report = teacher(state, batch, config)
        if target == "eq18":
            actor, _ = lom.update_actor(state, batch, report["mixture"], report["best_mode"],
                                        k_actor, config)
        elif target == "nearer-of-two":
            actor, _ = weighted_imitation(state.actor, batch,
                                          nearer_of_two(state, batch, report, config), None,
                                          config.policy_loss)
        else:
            actor, _ = weighted_imitation(state.actor, batch, jnp.clip(mode_mean, -1, 1),
                                          None, config.policy_loss)
        return state._replace(actor=actor), None

    return jax.lax.scan(one_update, state, jax.random.split(k_train, updates))[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory on a locomotion or Fetch dataset")
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help=f"comma-separated, from {', '.join(TARGETS)}")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="change a LOM option for the fresh actors' training, e.g. "
                             "beta=1000 (min_mode_weight also changes the teacher's pick)")
    parser.add_argument("--key", type=int, default=7,
                        help="seeds the fresh actors' init and batches")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    targets = args.targets.split(",")
    if not set(targets) <= set(TARGETS):
        parser.error(f"--targets: choose from {', '.join(TARGETS)}")
    dataset, evaluation = load_data(run.data_spec)
    observations = jnp.asarray(run.stats.normalize(dataset.observations), jnp.float32)
    probe = observations[:: max(1, len(observations) // 5000)][:5000]
    n_seeds = len(run.train_config.seeds)
    if any("=" not in option for option in args.set):
        parser.error("--set expects OPTION=VALUE")
    changes = dict(option.split("=", 1) for option in args.set)
    try:
        # the actor is what this script trains and scores, whatever the run acted by
        config = lom.Config.from_dict({**run.algo_config.to_dict(), **changes, "act_by": "actor"})
    except ConfigError as error:
        parser.error(f"--set: {error}")
    act = make_act(SimpleNamespace(act=lom.act), config, run.stats)

    def report(name, state):
        scores = rollout_seeds(evaluation, lambda obs: np.asarray(act(state, jnp.asarray(obs))),
                               n_seeds, args.episodes).scores.mean(axis=1)
        distances = []
        for seed in range(n_seeds):
            seed_state = jax.tree.map(lambda x, i=seed: x[i], state)
            mode_mean, _ = picked_component(seed_state, probe, config)
            distances.append(float(jnp.abs(lom.act(seed_state, probe, config)
                                           - jnp.clip(mode_mean, -1, 1)).mean()))
        print(f"{name:26s} {scores.mean():6.1f} ± {scores.std():4.1f}   "
              f"{' '.join(f'{s:5.1f}' for s in scores):13s} "
              f"{' '.join(f'{d:.3f}' for d in distances)}", flush=True)

    print(f"{'actor':26s} {'score':>13s}   per seed      |actor - mu_u*| per seed", flush=True)
    report(f"as trained, step {run.step}", run.state)
    label = " ".join(args.set)
    keys = jax.random.split(jax.random.PRNGKey(args.key), n_seeds)
    for target in targets:
        train = jax.jit(jax.vmap(partial(train_actor, observations=observations,
                                         act_dim=run.act_dim, updates=args.updates,
                                         target=target, config=config)))
        report(f"fresh, {target} {label}".rstrip(), train(run.state, keys))


if __name__ == "__main__":
    main()
