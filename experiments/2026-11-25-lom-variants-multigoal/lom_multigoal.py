"""LOM variants on multigoal, 3 seeds each, side by side in one run.

    .venv/bin/python experiments/2026-11-25-lom-variants-multigoal/lom_multigoal.py [--steps 4000] [--out runs/bench-multigoal]

Prints, per variant, the normalised score (mean ± std over seeds) and the
fraction of evaluation episodes that end at the reward-2 goal (1, 1).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from onemode.algos import lom
from onemode.targets import data_spec
from onemode.runs import TrainConfig
from onemode.tasks.multigoal import BEST_GOAL, goal_at
from onemode.train import train

# Sized for two CPU cores; the variants differ only in the named options.
BASE = lom.Config(hidden=(128, 128), n_components=8, hyper_q_samples=1, mdn_steps=4000,
                  critic_lr=1e-3, actor_lr=1e-3, hyper_q_lr=1e-3)
VARIANTS = {
    "default (min_mode_weight=0.05)": BASE,
    "argmax over all modes (min_mode_weight=0)": BASE.replace(min_mode_weight=0.0),
    "authors' code variants": BASE.replace(hyper_q_input="one_hot", advantage_baseline="policy",
                                           policy_loss="weighted_mse", n_critics=2,
                                           target_noise=0.2, imitation_noise=0.2),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--out", default="runs/bench-multigoal")
    args = parser.parse_args()
    config = TrainConfig(steps=args.steps, seeds=(0, 1, 2), log_every=1000,
                         eval_every=args.steps, eval_episodes=50, checkpoint_every=args.steps)
    print(f"{'variant':44s} {'score':>13s} {'at (1,1)':>9s} {'seconds':>8s}")
    for i, (name, algo_config) in enumerate(VARIANTS.items()):
        out = Path(args.out) / f"variant-{i}"
        shutil.rmtree(out, ignore_errors=True)
        tic = time.perf_counter()
        result = train("lom", algo_config, config, data_spec(task="multigoal", size=40_000), out,
                       show_progress=False)
        scores = result.final_eval.scores.mean(axis=1)
        at_best = (goal_at(result.final_eval.final_observations) == BEST_GOAL).mean()
        print(f"{name:44s} {scores.mean():6.1f} ± {scores.std():4.1f} {at_best:9.0%} "
              f"{time.perf_counter() - tic:8.0f}", flush=True)


if __name__ == "__main__":
    main()
