"""Built-in tasks, by name. Importing this module registers their environments."""

from __future__ import annotations

# each task module registers its tasks (`base.register`) when imported
from onemode.tasks import bandit, fetch, locomotion, multigoal  # noqa: F401
from onemode.tasks.base import TASKS, Task, get_task, register

__all__ = ["TASKS", "Task", "get_task", "register"]
