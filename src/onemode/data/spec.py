"""A data spec: where a run's data comes from and where it is evaluated, as a typed record;
and the episodes a run holds out of training.

A spec is built and resolved by `onemode.targets.data_spec` (it needs the tasks and the
environments); here it is only a record, written into and read back from a run's
config.json.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from onemode.data.dataset import Dataset
from onemode.envs import Reference
from onemode.errors import ConfigError

__all__ = ["DataSpec", "split_holdout"]


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A task's recipe, or a file evaluated on a task, an environment or nothing.

    `action_bounds` ([low, high], scalars or per-dimension lists) are the bounds the file's
    actions are rescaled from; `reference` says what the scores mean (None: no evaluation).
    """

    task: str | None = None
    dataset: str | None = None      # a resolved path
    size: int | None = None         # transitions of a task's generated data; None: its default
    data_seed: int = 0
    action_bounds: tuple | None = None
    env: str | None = None          # a gymnasium id, for a file
    reference: Reference | None = None

    def __post_init__(self):
        if self.task is None and self.dataset is None:
            raise ConfigError("a data spec needs a task or a dataset")
        if self.size is not None and (not isinstance(self.size, int) or self.size < 1):
            raise ConfigError(f"size must be a positive number of transitions, got {self.size!r}")
        if self.action_bounds is not None and len(self.action_bounds) != 2:
            raise ConfigError(f"action_bounds must be [low, high], got {self.action_bounds!r}")

    @property
    def label(self) -> str:
        """A short name: the task's, else the file's; an OGBench file on one of its single
        tasks, OGBench's name for the pair (cube-single-play-singletask-task2)."""
        if self.task:
            return self.task
        stem = Path(self.dataset).stem
        if self.env and "-singletask-" in self.env:
            return re.sub(r"-v\d+$", "", stem) + "-singletask-" + self.env.split("-")[-2]
        return stem

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.action_bounds is not None:
            values["action_bounds"] = [_plain(bound) for bound in self.action_bounds]
        values["reference"] = self.reference.to_dict() if self.reference is not None else None
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "DataSpec":
        """From config.json's "data" (every spec onemode has written since 0.1.0)."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"the data spec must be an object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown data spec key '{unknown[0]}'; known: "
                              f"{', '.join(sorted(known))}")
        values = dict(values)
        reference = values.get("reference")
        if reference is not None:
            if not isinstance(reference, Mapping):
                raise ConfigError(f"the data spec's reference must be an object, got "
                                  f"{reference!r}")
            values["reference"] = Reference.from_dict(reference)
        if values.get("action_bounds") is not None:
            values["action_bounds"] = tuple(values["action_bounds"])
        if values.get("data_seed") is None:
            values["data_seed"] = 0
        return cls(**values)


def _plain(bound):
    return np.asarray(bound, np.float64).tolist()


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Keep a random `fraction` of complete episodes out of training: (train, held out or None).

    Data that brings its own held-out split (`Dataset.held_out`) keeps all its rows for
    training and holds that split out instead (fraction 0: nothing is held out).
    """
    if dataset.held_out is not None:
        return dataset, (dataset.held_out if fraction > 0 else None)
    complete = dataset.episode_slices[: dataset.num_complete_episodes]
    n_held = int(round(fraction * len(complete)))
    if n_held == 0 or n_held == len(complete):
        return dataset, None
    held = set(np.random.default_rng(seed).choice(len(complete), n_held, replace=False).tolist())

    def rows(slices):
        return np.concatenate([np.arange(s.start, s.stop) for s in slices])

    train_slices = [s for i, s in enumerate(complete) if i not in held]
    train_slices += dataset.episode_slices[len(complete):]  # the incomplete trailing rows
    return (dataset.subset(rows(train_slices)),
            dataset.subset(rows([complete[i] for i in sorted(held)])))
