"""Does a locally consistent pick of LOM's mode give its actor a teacher it can follow?

    .venv/bin/python experiments/2026-11-28-imitation-gap/lom_consistent_pick.py RUN_DIR --margins 0,0.5,1,2 [--train 20000]

`lom_imitation_gap.py` finds the greedy pick u*(s) changing between consecutive dataset
states at most rows, by value margins well inside the hyper-Q's own error, and the
actor, one smooth network, parting from its teacher mostly at those switches. Here the
pick is made consistent where the ranking cannot tell the modes apart: of the eligible
modes whose value is within `margin` of the best, the heaviest (alpha_u(s) varies
smoothly with s). Margin 0 is Eq. 7's pick; a margin above every value gap is the
heaviest eligible mode.

Per margin, from one LOM checkpoint (its behaviour model and ranking frozen): the share
of dataset states at a switch (as `lom_imitation_gap.py` counts them), the score of
acting by the pick's mean, and with `--train N` a fresh actor per seed trained N updates
on that pick's mean (`lom_fixed_teacher.py`'s mode-mean target), its score and its mean
distance per action dimension from its teacher.
"""

import argparse
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import sys
from pathlib import Path

# lom_fixed_teacher.py lives in its own experiment's folder
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "2026-11-27-fixed-teacher"))
from lom_fixed_teacher import train_actor  # noqa: E402
from lom_imitation_gap import spread_rows, switch_states

from onemode.algos import lom
from onemode.algos.mixture import component_mean
from onemode.targets import load_data
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run


def consistent_pick(state, observations, config, margin: float):
    """mu_u(s) of the heaviest eligible mode valued within `margin` of the best, and u."""
    report = lom.mode_report(state, observations, config)
    mixture, values = report["mixture"], report["mode_values"]
    eligible = lom.eligible_modes(mixture, config.min_mode_weight)
    best_value = jnp.max(jnp.where(eligible, values, -jnp.inf), axis=-1, keepdims=True)
    near_best = eligible & (values >= best_value - margin)
    pick = jnp.argmax(jnp.where(near_best, mixture.logits, -jnp.inf), axis=-1)
    mean = jnp.clip(component_mean(mixture, pick), -1.0, 1.0)
    return mean, {"mixture": mixture, "best_mode": pick}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory on a locomotion dataset")
    parser.add_argument("--margins", default="0,0.5,1,2")
    parser.add_argument("--train", type=int, default=0, metavar="UPDATES",
                        help="also train a fresh actor on each margin's pick")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--key", type=int, default=7, help="seeds the fresh actors")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    config = run.algo_config.replace(act_by="actor")  # the ranking the actor was taught by
    dataset, evaluation = load_data(run.data_spec)
    rows, episode_goes_on = spread_rows(dataset, args.rows)
    probe = jnp.asarray(run.stats.normalize(dataset.observations[rows]), jnp.float32)
    train_observations = jnp.asarray(run.stats.normalize(dataset.observations), jnp.float32)
    n_seeds = len(run.train_config.seeds)
    keys = jax.random.split(jax.random.PRNGKey(args.key), n_seeds)

    def score(act, states):  # act(state, normalised observations), one seed's state
        batched = jax.jit(jax.vmap(act))

        def policy(raw_observations):  # (n_seeds, n_episodes, obs_dim)
            normalised = jnp.asarray(run.stats.normalize(raw_observations), jnp.float32)
            return np.asarray(batched(states, normalised))
        return rollout_seeds(evaluation, policy, n_seeds, args.episodes).scores.mean(axis=1)

    print(f"{run.path}, step {run.step}; per seed 0..{n_seeds - 1}")
    print(f"{'margin':>6s} {'switch share':>12s}  {'acting by the pick':>24s}"
          + (f"   {'fresh actor':>24s}  distance to its pick" if args.train else ""))
    for margin in map(float, args.margins.split(",")):
        teacher = partial(consistent_pick, config=config, margin=margin)
        picks = jax.vmap(lambda state: teacher(state, probe)[1]["best_mode"])(run.state)
        shares = [switch_states(np.asarray(p), episode_goes_on).mean() for p in picks]
        by_pick = score(lambda state, obs: teacher(state, obs)[0], run.state)
        line = (f"{margin:6.2f} {np.mean(shares):12.3f}  {by_pick.mean():6.1f} ± "
                f"{by_pick.std():4.1f} ({' '.join(f'{s:.0f}' for s in by_pick)})")
        if args.train:
            train = jax.jit(jax.vmap(partial(
                train_actor, observations=train_observations, act_dim=run.act_dim,
                updates=args.train, target="mode-mean", config=config,
                teacher=lambda state, obs, _config: teacher(state, obs))))
            trained = train(run.state, keys)
            actor_scores = score(lambda state, obs: lom.mean_action(state.actor, obs), trained)
            distance = jax.vmap(lambda state: jnp.abs(
                lom.mean_action(state.actor, probe) - teacher(state, probe)[0]).mean())(trained)
            line += (f"   {actor_scores.mean():6.1f} ± {actor_scores.std():4.1f} "
                     f"({' '.join(f'{s:.0f}' for s in actor_scores)})  "
                     f"{' '.join(f'{d:.3f}' for d in np.asarray(distance))}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
