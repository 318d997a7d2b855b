"""Where a run's data comes from (a data spec), and the episodes it holds out of training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onemode.algos.config import ConfigError
from onemode.data.dataset import Dataset
from onemode.data.io import load_dataset


def data_spec(task: str | None = None, dataset: str | None = None, size: int | None = None,
              data_seed: int = 0, action_bounds=None) -> dict:
    """A task's recipe, or a file (evaluated on `task` if given), as a JSON-ready dict."""
    from onemode.tasks import get_task

    if task is None and dataset is None:
        raise ConfigError("give --task NAME or --dataset PATH")
    if task is not None:
        get_task(task)  # fail early on an unknown name
    return {"task": task, "dataset": str(Path(dataset).resolve()) if dataset else None,
            "size": size, "data_seed": data_seed, "action_bounds": action_bounds}


def load_data(spec: dict):
    """(Dataset, Task or None) from a data spec (see `data_spec`)."""
    from onemode.tasks import get_task

    task = get_task(spec["task"]) if spec.get("task") else None
    if spec.get("dataset"):
        dataset = load_dataset(spec["dataset"], action_bounds=spec.get("action_bounds"))
    else:
        if task is None:
            raise ConfigError("give a task or a dataset")
        dataset = task.make_dataset(spec.get("size") or task.default_size, spec.get("data_seed", 0))
    return dataset, task


def split_holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Keep a random `fraction` of complete episodes out of training: (train, held out or None)."""
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
