"""What each part of a trained LOM run scores when it acts alone on a Fetch task.

    .venv/bin/python benchmarks/lom_parts.py runs/fetch-bench/runs/fetch-push-4goal/lom

Three policies from the same checkpoint, each rolled out for every seed from the
evaluation start states:
  actor          pi_theta's mean: LOM as trained (Eq. 18)
  greedy mode    the mean of the MDN component the hyper-Q picks, mu_u*(s) (Eq. 7)
  heaviest mode  the mean of the MDN's most probable component: the MDN baseline's
                 way of acting, with LOM's own behaviour model

If the actor scores above the heaviest mode, LOM's gain is not a better-trained
behaviour model; if above the greedy mode, the advantage-weighted imitation adds
to picking the mode. Episodes are counted by the goal they end at (I: reward 2).
"""

import argparse
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
from fetch_endings import endings

from onemode.algos import lom, mdn
from onemode.policy import load_run, make_act
from onemode.tasks import get_task


def greedy_mode(state, observations, config):
    report = lom.mode_report(state, observations, config)
    index = report["best_mode"][:, None, None]
    return jnp.clip(jnp.take_along_axis(report["mixture"].means, index, axis=1)[:, 0], -1, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", help="a LOM run on a fetch-*-4goal task")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    run = load_run(args.run_dir)
    if run.algo_name != "lom":
        parser.error(f"{args.run_dir} is a {run.algo_name} run, not lom")
    task = get_task(run.data_spec["task"])

    print(f"{'policy':14s} {'score':>13s}   per seed{'':18s}"
          "episodes ending at goal I, II, III, IV, none")
    for name, part in (("actor", lom.act), ("greedy mode", greedy_mode),
                       ("heaviest mode", mdn.act)):  # mdn.act reads only state.mdn
        act = make_act(SimpleNamespace(act=part), run.algo_config, run.stats)  # as an algorithm
        per_seed, counts = endings(task, lambda obs: np.asarray(act(run.state, jnp.asarray(obs))),
                                   len(run.train_config.seeds), args.episodes)
        print(f"{name:14s} {per_seed.mean():6.1f} ± {per_seed.std():4.1f}   "
              f"{' '.join(f'{s:5.1f}' for s in per_seed):26s}"
              + " ".join(f"{c:4d}" for c in counts), flush=True)


if __name__ == "__main__":
    main()
