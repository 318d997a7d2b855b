"""Where a multigoal run's evaluation episodes end, per seed, at the run's latest checkpoint.

    .venv/bin/python experiments/2026-12-07-rebrac-multigoal/endings.py RUN_DIR [--episodes 50]

The episodes `onemode eval RUN_DIR --episodes N` rolls out (the same start states), their
scores, and the goal each ends within reach of ((+1,+1) pays 2 a step, the others 1).
"""

from __future__ import annotations

import argparse

import numpy as np

from onemode.evaluate import rollout_seeds
from onemode.policy import load_run
from onemode.targets import run_target
from onemode.tasks.multigoal import GOALS, goal_at


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args(argv)
    run = load_run(args.run_dir)
    target = run_target(run)
    seeds = run.train_config.seeds
    rollouts = rollout_seeds(target, lambda obs: np.asarray(run.act(run.state, obs)),
                             len(seeds), args.episodes)
    names = [f"({x:+.0f},{y:+.0f})" for x, y in GOALS] + ["none"]
    print(f"{run.algo_name} on {target.name} after {run.step:,} updates, "
          f"{args.episodes} episodes a seed")
    print(f"{'seed':>4s} {'score':>6s}  " + " ".join(f"{n:>8s}" for n in names))
    for i, seed in enumerate(seeds):
        reached = goal_at(rollouts.final_observations[i])
        counts = [int((reached == g).sum()) for g in range(len(GOALS))] + [int((reached < 0).sum())]
        print(f"{seed:4d} {rollouts.scores[i].mean():6.1f}  " + " ".join(f"{c:8d}" for c in counts))


if __name__ == "__main__":
    main()
