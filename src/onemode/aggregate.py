"""Aggregate scores over many runs: the interquartile mean and its bootstrap interval.

Agarwal et al. (2021, "Deep RL at the edge of the statistical precipice", the
rliable library) recommend, for a handful of seeds on several tasks, the
interquartile mean (IQM) of all runs' normalised scores, with a confidence
interval from the stratified bootstrap: seeds are resampled with replacement
within each task, so every resample keeps each task's weight. Computed here
with numpy, as rliable defines them (the IQM trims a quarter of the runs at each
end, as scipy's `trim_mean(x, 0.25)`; the interval is the bootstrap's percentiles).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Interval(NamedTuple):
    value: float
    low: float
    high: float
    n_runs: int

    def describe(self) -> str:
        return f"{self.value:.1f} [{self.low:.1f}, {self.high:.1f}]"


def iqm(scores) -> float:
    """The mean of the middle half: a quarter of the sorted runs cut at each end."""
    ordered = np.sort(np.asarray(scores, np.float64).ravel())
    cut = int(0.25 * ordered.size)
    return float(ordered[cut: ordered.size - cut].mean())


def iqm_interval(scores_by_task: list, reps: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Interval:
    """IQM over every run, with the stratified bootstrap's percentile interval.

    `scores_by_task`: one sequence of per-seed scores for each task.
    """
    tasks = [np.asarray(s, np.float64).ravel() for s in scores_by_task]
    if not tasks or any(t.size == 0 for t in tasks):
        raise ValueError("every task needs at least one score")
    rng = np.random.default_rng(seed)
    resampled = np.concatenate(
        [t[rng.integers(0, t.size, (reps, t.size))] for t in tasks], axis=1)   # (reps, runs)
    ordered = np.sort(resampled, axis=1)
    cut = int(0.25 * ordered.shape[1])
    statistics = ordered[:, cut: ordered.shape[1] - cut].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return Interval(iqm(np.concatenate(tasks)), float(low), float(high),
                    sum(t.size for t in tasks))
