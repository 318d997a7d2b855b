"""Where each algorithm's Fetch episodes end: at which of the four goals, or at none.

    .venv/bin/python benchmarks/fetch_endings.py runs/fetch-bench/runs/fetch-push-4goal

For every run directory under the given folder (one per algorithm, as `onemode
bench` lays them out), rolls out each seed's policy for 20 episodes from the
evaluation start states and counts the episodes ending within 0.05 m of each
goal: a policy can score 50 by reaching a reward-1 goal every time, or by
reaching the reward-2 goal half the time, and the table below the score says which.
"""

import argparse
from pathlib import Path

import numpy as np

from onemode.evaluate import rollout_seeds
from onemode.policy import load_run
from onemode.targets import run_target
from onemode.tasks.fetch import BLOCK, GRIP, FetchFourGoalEnv, goal_index


def endings(task, policy, n_seeds: int, episodes: int):
    """Roll out `policy` ((S, n, obs) -> (S, n, act)) from the evaluation start states.

    Returns each seed's mean score and the episodes ending at goal I (reward 2), II,
    III, IV and at none.
    """
    env = FetchFourGoalEnv(task.name.split("-")[1])
    try:
        result = rollout_seeds(task, policy, n_seeds, episodes)
        mover = BLOCK if env.kind.has_block else GRIP
        ends = goal_index(result.final_observations[..., mover], env.goals)
    finally:
        env.close()
    return result.scores.mean(axis=1), [int((ends == g).sum()) for g in (0, 1, 2, 3, -1)]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("task_runs", help="OUT/runs/TASK of a bench")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"{'algorithm':10s} {'score':>13s}   episodes ending at goal I (reward 2), II, III, IV, none")
    for run_dir in sorted(p for p in Path(args.task_runs).iterdir() if p.is_dir()):
        run = load_run(run_dir)
        per_seed, counts = endings(run_target(run),
                                   lambda obs: np.asarray(run.act(run.state, obs)),
                                   len(run.train_config.seeds), args.episodes)
        print(f"{run_dir.name:10s} {per_seed.mean():6.1f} ± {per_seed.std():4.1f}   "
              + " ".join(f"{c:4d}" for c in counts), flush=True)


if __name__ == "__main__":
    main()
