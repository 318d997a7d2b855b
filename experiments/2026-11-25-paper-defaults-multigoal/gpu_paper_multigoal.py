"""LOM at the paper's defaults (Table 3) on multigoal, 3 seeds trained together.

    python experiments/2026-11-25-paper-defaults-multigoal/gpu_paper_multigoal.py [--steps 20000] [--out runs/paper-multigoal]

Too slow for two CPU cores (one update is ~16 GFLOP with 10 Monte-Carlo samples
per mode); meant for an accelerator.
"""

from __future__ import annotations

import argparse
import shutil
import time

import jax

from onemode.algos import lom
from onemode.targets import data_spec
from onemode.runs import TrainConfig
from onemode.tasks.multigoal import BEST_GOAL, goal_at
from onemode.train import train


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--out", default="runs/paper-multigoal")
    parser.add_argument("--min-mode-weight", type=float, default=lom.Config().min_mode_weight)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    # the recorded runs: Table 3, with the 10 hyper-Q samples per mode of the default then
    config = lom.Config(min_mode_weight=args.min_mode_weight, hyper_q_samples=10)
    print(f"device: {jax.devices()[0].device_kind}; LOM config: {config}")
    tic = time.perf_counter()
    result = train("lom", config, TrainConfig(steps=args.steps, seeds=(0, 1, 2),
                                                    eval_every=5_000, eval_episodes=50,
                                                    checkpoint_every=5_000),
                   data_spec(task="multigoal"), args.out, show_progress=False)
    scores = result.final_eval.scores.mean(axis=1)
    at_best = (goal_at(result.final_eval.final_observations) == BEST_GOAL).mean(axis=1)
    print(f"scores per seed: {scores.round(1).tolist()}  mean {scores.mean():.1f} ± "
          f"{scores.std():.1f}; episodes at (1,1): {at_best.tolist()}; "
          f"{time.perf_counter() - tic:.0f} s")


if __name__ == "__main__":
    main()
