"""The errors a user can meet, each naming what is wrong and what was expected.

The bottom layer: every module that raises one imports it from here. The command
line prints them in one line, without a traceback.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "ConfigError", "DatasetError", "RunStopped", "USER_ERRORS"]


class ConfigError(ValueError):
    """An option that does not exist, or a value that makes no sense."""


class DatasetError(ValueError):
    """A dataset that breaks the data contract: names file, key, row and expectation."""

    def __init__(self, source: str, expected: str, key: str | None = None,
                 row: int | None = None, found: str | None = None):
        self.source, self.key, self.row = source, key, row
        self.expected, self.found = expected, found
        where = source
        if key is not None:
            where += f", key '{key}'"
        if row is not None:
            where += f", row {row}"
        message = f"{where}: expected {expected}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)


class CheckpointError(ValueError):
    """A run directory's file (checkpoint, statistics, record) that cannot be loaded into the
    run its config describes."""


class RunStopped(Exception):
    """A run asked to stop (SIGTERM, Ctrl-C) that stopped at the end of a chunk and saved
    its checkpoint there: `how_to_continue` resumes it exactly."""

    def __init__(self, signal_name: str, step: int, run_dir, how_to_continue: str):
        self.signal_name, self.step, self.run_dir = signal_name, step, run_dir
        self.how_to_continue = how_to_continue
        super().__init__(f"stopped by {signal_name} after {step:,} updates, all in the "
                         f"checkpoint of {run_dir}; continue with: {how_to_continue}")

    def with_hint(self, how_to_continue: str) -> "RunStopped":
        return RunStopped(self.signal_name, self.step, self.run_dir, how_to_continue)


# what the command line reports in one line
USER_ERRORS = (ConfigError, DatasetError, CheckpointError)
