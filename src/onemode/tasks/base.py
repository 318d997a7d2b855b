"""What a built-in task is: an environment, its data recipe and reference scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import numpy as np

from onemode.data.dataset import Dataset


@dataclass(frozen=True)
class Task:
    """A registered gymnasium environment with behaviour data and reference scores.

    Scores are normalised as 100 * (return - random_return) / (expert_return -
    random_return): 0 is a uniformly random policy, 100 the best scripted one.
    """

    name: str
    env_id: str                                  # registered with gymnasium on import
    description: str
    recipe: str                                  # how the default dataset is made, in words
    horizon: int
    default_size: int                            # transitions in the default dataset
    random_return: float
    expert_return: float
    make_dataset: Callable[[int, int], Dataset]  # (size, seed) -> Dataset
    expert_policy: Callable[[np.ndarray], np.ndarray]  # batch of observations -> actions
    optimal_return: float | None = None          # closed form, where one is known

    def make_env(self, **kwargs) -> gym.Env:
        return gym.make(self.env_id, **kwargs)

    @property
    def reference(self):
        """The returns that score 0 and 100 (`onemode.envs.Reference`)."""
        from onemode.envs import Reference
        return Reference(self.random_return, self.expert_return,
                         f"task {self.name}: its random and expert returns")

    def normalized_score(self, returns):
        return self.reference.normalize(returns)

    def score(self, returns, successes):
        return self.reference.score(returns, successes)


TASKS: dict[str, Task] = {}  # name -> task, filled as each task module is imported


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task '{name}'; built-in tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
