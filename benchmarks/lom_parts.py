"""What each part of a trained LOM run scores when it acts alone.

    .venv/bin/python benchmarks/lom_parts.py runs/fetch-bench/runs/fetch-push-4goal/lom
    .venv/bin/python benchmarks/lom_parts.py RUN_DIR --episodes 10 --critic-pick \
        [--min-mode-weights 0.1,0.2]

Policies from the same checkpoint, each rolled out for every seed from the
evaluation start states:
  actor          pi_theta's mean: LOM as trained (Eq. 18)
  greedy mode    the mean of the MDN component the actor imitates, mu_u*(s) (Eq. 7, the
                 hyper-Q's pick): LOM with act_by=greedy_mode (--min-mode-weights: also
                 with the pick restricted to heavier components)
  heaviest mode  the mean of the MDN's most probable component: the MDN baseline's
                 way of acting, with LOM's own behaviour model
  critic mode    (--critic-pick) the mean mu_u(s) of the component whose mean the critic
                 values most, argmax_u Q_psi(s, mu_u(s)), over the same eligible
                 components: LOM with act_by=critic_mode

If the actor scores above the heaviest mode, LOM's gain is not a better-trained
behaviour model; if above the greedy mode, the advantage-weighted imitation adds
to picking the mode. On a Fetch task, episodes are also counted by the goal they end
at (I: reward 2).

Every part acts through the algorithm contract: `act` with the run's config changed
(`act_by`, `min_mode_weight`), and `mode_report`'s mixture for the heaviest mode.
"""

import argparse
from functools import partial
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
from fetch_endings import endings

from onemode.algos import get_algo
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run, make_act
from onemode.targets import run_target


def heaviest_mode(state, observations, config):
    """The mean of the behaviour model's most probable component, clipped to [-1, 1]."""
    mixture = get_algo("lom").mode_report(state, observations, config)["mixture"]
    heaviest = jnp.argmax(mixture.logits, axis=-1)
    mean = jnp.take_along_axis(mixture.means, heaviest[..., None, None], axis=-2)[..., 0, :]
    return jnp.clip(mean, -1.0, 1.0)


def _numpy_policy(act, state, observations):
    return np.asarray(act(state, jnp.asarray(observations)))


def parts(run, min_mode_weights=(), critic_pick: bool = False):
    """(name, act function of the contract's signature, config) of each policy to roll out."""
    lom = get_algo("lom")
    config = run.algo_config
    chosen = [("actor", lom.act, config.replace(act_by="actor")),
              ("greedy mode", lom.act, config.replace(act_by="greedy_mode"))]
    chosen += [(f"greedy, a>={weight:g}", lom.act,
                config.replace(act_by="greedy_mode", min_mode_weight=float(weight)))
               for weight in min_mode_weights]
    chosen += [("heaviest mode", heaviest_mode, config)]
    if critic_pick:
        chosen += [("critic mode", lom.act, config.replace(act_by="critic_mode"))]
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory (a Fetch or locomotion task)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--min-mode-weights", default="",
                        help="also the greedy mode over components of weight >= each of "
                             "these, e.g. 0.2,0.5 (the run's own min_mode_weight is the "
                             "'greedy mode' row; above 0.5 only the heaviest is left)")
    parser.add_argument("--critic-pick", action="store_true",
                        help="also the component ranked by Q_psi at its mean")
    args = parser.parse_args(argv)
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    target = run_target(run)
    fetch = target.name.startswith("fetch-")
    n_seeds = len(run.train_config.seeds)
    weights = [float(w) for w in filter(None, args.min_mode_weights.split(","))]

    print(f"{'policy':16s} {'score':>13s}   per seed{'':18s}"
          + ("episodes ending at goal I, II, III, IV, none" if fetch else ""))
    for name, part, config in parts(run, weights, args.critic_pick):
        act = make_act(SimpleNamespace(act=part), config, run.stats,
                       run.data_spec.action_bounds)  # as an algorithm
        policy = partial(_numpy_policy, act, run.state)
        if fetch:
            per_seed, counts = endings(target, policy, n_seeds, args.episodes)
        else:
            per_seed = rollout_seeds(target, policy, n_seeds, args.episodes).scores.mean(axis=1)
            counts = []
        print(f"{name:16s} {per_seed.mean():6.1f} ± {per_seed.std():4.1f}   "
              f"{' '.join(f'{s:5.1f}' for s in per_seed):26s}"
              + " ".join(f"{c:4d}" for c in counts), flush=True)


if __name__ == "__main__":
    main()
