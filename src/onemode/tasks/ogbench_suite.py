"""OGBench's single-task suite: each play dataset's five tasks, and their names.

OGBench's single-task protocol (its README, "single-task" variants) evaluates a dataset
on five fixed tasks, `ENV-singletask-task1-v0` to `-task5-v0` of its environment, and
reports the success rate per task and as the mean over the five.
"""

from __future__ import annotations

import math

from onemode.errors import ConfigError
from onemode.tasks.ogbench_play import DEFAULT_EPISODES, EPISODE_STEPS, PLAY_DATASETS

TASKS_PER_DATASET = 5
TRANSITIONS_PER_EPISODE = EPISODE_STEPS - 1   # OGBench's loader drops each episode's last row


def single_task_envs(name: str) -> list[str]:
    """The gymnasium ids of play dataset `name`'s five tasks."""
    env_id = PLAY_DATASETS[name]   # e.g. cube-single-v0
    stem, _, version = env_id.rpartition("-")
    return [f"{stem}-singletask-task{task}-{version}"
            for task in range(1, TASKS_PER_DATASET + 1)]


def file_name(name: str) -> str:
    """OGBench's file name for play dataset `name`."""
    return f"{name}-v0.npz"


def episodes_for(size: int | None) -> int:
    """Episodes of a play dataset of about `size` transitions (None: OGBench's 1,000)."""
    if size is None:
        return DEFAULT_EPISODES
    return max(1, math.ceil(size / TRANSITIONS_PER_EPISODE))


def suite_datasets(selection: tuple[str, ...]) -> tuple[str, ...]:
    """The play datasets a `--datasets` selection names (all four where it names none)."""
    unknown = [name for name in selection if name not in PLAY_DATASETS]
    if unknown:
        raise ConfigError(f"--datasets: '{unknown[0]}' is not one of OGBench's play datasets "
                          f"onemode makes ({', '.join(PLAY_DATASETS)})")
    return tuple(dict.fromkeys(selection)) or tuple(PLAY_DATASETS)


__all__ = ["TASKS_PER_DATASET", "episodes_for", "file_name", "single_task_envs",
           "suite_datasets"]
