"""Data generation across worker processes, with a result that does not depend on them."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Sequence


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class ProcessMap:
    """`pool(fn, jobs)` = [fn(*job) for job in jobs], spread over spawned worker processes.

    One pool serves every call inside the `with` block. Callers split their work into
    jobs that do not depend on the number of workers, so the result is the same with
    any number of them (one: everything runs in this process).
    """

    def __init__(self, workers: int | None = None, what: str = "data"):
        self.workers, self.what, self._pool = workers or default_workers(), what, None

    def __enter__(self) -> "ProcessMap":
        if self.workers > 1:
            # spawn: the parent may hold JAX's threads, which fork would copy half-alive
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __call__(self, fn: Callable, jobs: Sequence[tuple]) -> list:
        if self._pool is not None and len(jobs) > 1:
            try:
                return list(self._pool.map(fn, *zip(*jobs)))
            except BrokenProcessPool:
                # A script without `if __name__ == "__main__":` re-runs itself in each
                # spawned worker. The data do not depend on the split: go on here.
                warnings.warn(f"{self.what}: worker processes failed to start (a script "
                              "without an `if __name__ == '__main__':` guard?); generating "
                              "in one process", RuntimeWarning, stacklevel=2)
                self._pool.shutdown()
                self._pool = None
        return [fn(*job) for job in jobs]


def map_in_processes(fn: Callable, jobs: Sequence[tuple], workers: int | None = None,
                     what: str = "data") -> list:
    """[fn(*job) for job in jobs] in a `ProcessMap` of `workers` processes, in job order."""
    with ProcessMap(min(workers or default_workers(), len(jobs)), what) as pool:
        return pool(fn, jobs)
