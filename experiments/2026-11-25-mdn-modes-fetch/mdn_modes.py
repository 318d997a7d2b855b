"""Does the MDN find the four modes at the Fetch start states?

    .venv/bin/python experiments/2026-11-25-mdn-modes-fetch/mdn_modes.py --data runs/fetch-bench/data/fetch-reach-4goal-200000.npz

At each start state of `fetch-reach-4goal` the data hold four actions, one per
goal quadrant. After training the `mdn` algorithm (the network LOM's behaviour
phase trains), this counts, per start state, how many of the four data actions
have a component with weight alpha >= 0.05 (LOM's `min_mode_weight`) whose mean
is within 0.3 of it in x and y: 4 means every mode is there for LOM's hyper-Q to
choose from, 1 or 0 that one broad component covers them all.

Variants, side by side in one run: the MDN as committed (means' biases spread
over [-1, 1], log sigma squashed smoothly into [-5, 0], starting at -2.5) and,
by patching `onemode.nets`, each of the two changes alone and neither (zero
biases and a hard clip of log sigma, as before the change).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time

import jax
import numpy as np

import onemode.nets as nets
from onemode.algos import mdn
from onemode.data import load_dataset
from onemode.targets import data_spec
from onemode.policy import load_run
from onemode.runs import TrainConfig
from onemode.tasks.fetch import HORIZON, N_GOALS
from onemode.train import train


@contextlib.contextmanager
def variant(spread: bool, squash: bool):
    saved = nets.spread_bias, nets.squash_log_std
    if not spread:
        nets.spread_bias = lambda low, high, n: jax.nn.initializers.zeros
    if not squash:
        nets.squash_log_std = nets.clamp_log_std
    try:
        yield
    finally:
        nets.spread_bias, nets.squash_log_std = saved


def modes_covered(run, dataset, n_starts: int, seed_index: int) -> float:
    """Mean over start states of the data modes an eligible component sits on (0-4)."""
    first_rows = np.arange(n_starts) * N_GOALS * HORIZON      # one group of 4 episodes per start
    mixture = run.mode_report(dataset.observations[first_rows], seed_index)["mixture"]
    alpha, means = np.asarray(jax.nn.softmax(mixture.logits)), np.asarray(mixture.means)
    covered = []
    for j, row in enumerate(first_rows):
        data_actions = dataset.actions[row + np.arange(N_GOALS) * HORIZON, :2]
        eligible = means[j][alpha[j] >= 0.05][:, :2]
        distance = np.abs(data_actions[:, None] - eligible[None]).max(axis=-1).min(axis=1)
        covered.append(np.sum(distance < 0.3))
    return float(np.mean(covered))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="a fetch-reach-4goal dataset file")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    config = mdn.Config(hidden=(128, 128), n_components=10, batch_size=256)
    seeds = tuple(range(args.seeds))
    train_config = TrainConfig(steps=args.steps, seeds=seeds, log_every=args.steps,
                               eval_every=args.steps, checkpoint_every=args.steps)
    print(f"{len(dataset):,} transitions, M = 10, 128-128, {args.steps} updates, "
          f"{args.seeds} seeds; modes covered at 200 start states (of 4)")
    for name, spread, squash in [("committed: spread means + smooth squash", True, True),
                                 ("spread means, hard clip", True, False),
                                 ("zero biases, smooth squash", False, True),
                                 ("before: zero biases, hard clip", False, False)]:
        out = tempfile.mkdtemp()
        tic = time.perf_counter()
        with variant(spread, squash):
            train("mdn", config, train_config, data_spec(dataset=args.data), out,
                           show_progress=False)
            run = load_run(out)
            covered = [modes_covered(run, dataset, 200, i) for i in range(len(seeds))]
        shutil.rmtree(out)
        print(f"{name:40s} " + "  ".join(f"{c:4.2f}" for c in covered)
              + f"   ({time.perf_counter() - tic:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
