"""Built-in tasks, by name. Importing this module registers their environments."""

from __future__ import annotations

from onemode.tasks.base import Task

TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task '{name}'; built-in tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]


# Each task module calls `register` at import time.
from onemode.tasks import bandit, fetch, locomotion, multigoal  # noqa: E402,F401
