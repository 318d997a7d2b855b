"""What each part of a trained LOM run scores when it acts alone.

    .venv/bin/python benchmarks/lom_parts.py runs/fetch-bench/runs/fetch-push-4goal/lom
    .venv/bin/python benchmarks/lom_parts.py runs/lom-variants/defaults/runs/hopper-medium-replay-200000/lom

Three policies from the same checkpoint, each rolled out for every seed from the
evaluation start states:
  actor          pi_theta's mean: LOM as trained (Eq. 18)
  greedy mode    the mean of the MDN component the actor imitates, mu_u*(s) (Eq. 7; the
                 hyper-Q's pick, or the critic's in a run with best_mode_by=critic):
                 LOM with act_by=greedy_mode (--min-mode-weights: also with the pick
                 restricted to heavier components)
  heaviest mode  the mean of the MDN's most probable component: the MDN baseline's
                 way of acting, with LOM's own behaviour model
  critic mode    (--critic-pick) the mean mu_u(s) of the component whose mean the critic
                 values most, argmax_u Q_psi(s, mu_u(s)), over the same eligible
                 components: LOM with act_by=critic_mode
  critic, E Q    (--critic-pick) mu_u(s) of argmax_u of Eq. 17's target itself, the mean
                 of Q_psi over 32 samples of each component, with no hyper-Q network

If the actor scores above the heaviest mode, LOM's gain is not a better-trained
behaviour model; if above the greedy mode, the advantage-weighted imitation adds
to picking the mode. On a Fetch task, episodes are also counted by the goal they end
at (I: reward 2).
"""

import argparse
from functools import partial
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
from fetch_endings import endings

from onemode.algos import lom, mdn
from onemode.algos.mixture import component_mean
from onemode.data.spec import evaluation_target
from onemode.evaluate import rollout_seeds
from onemode.policy import load_run, make_act


def _numpy_policy(act, state, observations):
    return np.asarray(act(state, jnp.asarray(observations)))


def expected_value_pick(state, observations, config, samples: int = 32):
    """mu_u(s), u = argmax_u of Monte-Carlo E_{a ~ phi_u} Q_psi(s, a) over Eq. 7's eligible
    components: the hyper-Q's target (Eq. 17) in place of the hyper-Q."""
    mixture = state.mdn.apply_fn(state.mdn.params, observations)
    key = jax.random.PRNGKey(0)  # fixed: the same draws at every step, as a policy
    values = lom.mode_values(state.critic, observations, mixture, key, samples)
    best = lom.greedy_mode(values, mixture, config.min_mode_weight)
    return jnp.clip(component_mean(mixture, best), -1.0, 1.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run directory (a Fetch or locomotion task)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--min-mode-weights", default="",
                        help="also the greedy mode over components of weight >= each of "
                             "these, e.g. 0.2,0.5 (the run's own min_mode_weight is the "
                             "'greedy mode' row; 1 would leave only the heaviest)")
    parser.add_argument("--critic-pick", action="store_true",
                        help="also the component ranked by Q_psi at its mean")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    target = evaluation_target(run.data_spec)
    fetch = target.name.startswith("fetch-")
    n_seeds = len(run.train_config.seeds)

    print(f"{'policy':16s} {'score':>13s}   per seed{'':18s}"
          + ("episodes ending at goal I, II, III, IV, none" if fetch else ""))
    parts = [("actor", lom.act, {"act_by": "actor"}),
             ("greedy mode", lom.act, {"act_by": "greedy_mode"})]
    parts += [(f"greedy, a>={weight}", lom.act,
               {"act_by": "greedy_mode", "min_mode_weight": float(weight)})
              for weight in filter(None, args.min_mode_weights.split(","))]
    parts += [("heaviest mode", mdn.act, {})]  # mdn.act reads only state.mdn
    if args.critic_pick:
        parts += [("critic mode", lom.act, {"act_by": "critic_mode"}),
                  ("critic, E Q", expected_value_pick, {})]
    for name, part, changes in parts:
        act = make_act(SimpleNamespace(act=part), run.algo_config.replace(**changes),
                       run.stats)  # as an algorithm
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
