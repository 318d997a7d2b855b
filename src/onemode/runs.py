"""A run directory: config, metrics log, observation statistics and checkpoints.

    RUN/config.json       what was run (algorithm config, training config, data)
    RUN/obs_stats.npz     normalisation statistics, used for training and acting
    RUN/metrics.jsonl     one JSON object per log or evaluation point
    RUN/checkpoint.npz    the latest training state of every seed, written atomically
    RUN/tb/               TensorBoard events, when tensorboardX is installed

Every file is written to a temporary name in the same folder, then renamed,
so a killed run leaves the last good file in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from onemode.data.dataset import NormStats
from onemode.fileio import atomic_write


class RunDir:
    def __init__(self, path):
        self.path = Path(path)
        self._tensorboard = None

    # ---------------------------------------------------------------- config
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def exists(self) -> bool:
        return self.config_path.exists()

    def write_config(self, config: dict) -> None:
        atomic_write(self.config_path,
                     lambda tmp: tmp.write_text(json.dumps(config, indent=2) + "\n"))

    def read_config(self) -> dict:
        if not self.exists():
            raise FileNotFoundError(f"{self.path}: not a run directory (no config.json)")
        return json.loads(self.config_path.read_text())

    # ------------------------------------------------------------ statistics
    def write_stats(self, stats: NormStats) -> None:
        atomic_write(self.path / "obs_stats.npz",
                     lambda tmp: _savez(tmp, mean=stats.mean, std=stats.std))

    def read_stats(self) -> NormStats:
        with np.load(self.path / "obs_stats.npz") as f:
            return NormStats(f["mean"], f["std"])

    # ----------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.npz"

    def save_checkpoint(self, step: int, state: Any, keys: jax.Array) -> None:
        leaves = jax.tree.leaves(state)
        arrays = {f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)}
        atomic_write(self.checkpoint_path,
                     lambda tmp: _savez(tmp, step=np.int64(step), keys=np.asarray(keys), **arrays))

    def load_checkpoint(self, template: Any) -> tuple[int, Any, np.ndarray]:
        """(step, state, keys); `template` is a state of the same structure."""
        leaves, treedef = jax.tree.flatten(template)
        with np.load(self.checkpoint_path) as f:
            stored = [f[f"leaf_{i:05d}"] for i in range(len(leaves))]
            step, keys = int(f["step"]), f["keys"]
        for i, (old, new) in enumerate(zip(leaves, stored)):
            if np.shape(old) != new.shape:
                raise ValueError(f"{self.checkpoint_path}: leaf {i} has shape {new.shape}, "
                                 f"the config builds {np.shape(old)}")
        return step, jax.tree.unflatten(treedef, stored), keys

    # --------------------------------------------------------------- metrics
    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        self._write_tensorboard(record)

    def _write_tensorboard(self, record: dict) -> None:
        """Scalars (the mean over seeds) as TensorBoard events, when tensorboardX is installed."""
        if self._tensorboard is None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                self._tensorboard = False
                return
            self._tensorboard = SummaryWriter(str(self.path / "tb"))
        if self._tensorboard is False:
            return
        for name, value in record.items():
            if name not in ("step", "phase"):
                array = np.asarray(value, dtype=np.float64)
                if array.ndim <= 1:  # scalars and per-seed lists
                    self._tensorboard.add_scalar(f"{record['phase']}/{name}", float(array.mean()),
                                                 record["step"])
        self._tensorboard.flush()

    def close(self) -> None:
        """Finish the TensorBoard event file (its writer works from a background queue)."""
        if self._tensorboard:
            self._tensorboard.close()
        self._tensorboard = None

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line]

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past `after_step` (a resumed run writes them again)."""
        kept = [r for r in self.read_metrics() if r["step"] <= after_step]
        atomic_write(self.metrics_path, lambda tmp: tmp.write_text(
            "".join(json.dumps(r) + "\n" for r in kept)))


# Training settings a resumed run may change: how long it runs, how often it logs and
# evaluates, and with how many episodes. None of them changes an update.
RESUMABLE_SETTINGS = frozenset({"steps", "log_every", "eval_every", "checkpoint_every",
                                "eval_episodes"})


def config_differences(stored: dict, asked: dict, may_change=frozenset()) -> list[str]:
    """Where the config `asked` for a run differs from the one its config.json `stored`.

    Compares the algorithm, the data's shapes, the algorithm config, the training
    config (less the keys in `may_change`) and the data spec. A dataset file counts
    as the same by its name and shapes, so a bench folder that was moved or copied
    still matches the data under its OUT/data.
    """
    asked = json.loads(json.dumps(asked))  # tuples -> lists, as stored
    differences = []
    for key in ("algo", "obs_dim", "act_dim"):
        if key in stored and key in asked and stored[key] != asked[key]:
            differences.append(f"{key}: {stored[key]!r} in the run, {asked[key]!r} asked")
    for section in ("algo_config", "train_config", "data"):
        old, new = stored.get(section) or {}, asked.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if section == "train_config" and key in may_change:
                continue
            before = repr(old[key]) if key in old else "not recorded"
            now = repr(new[key]) if key in new else "not known here"
            if section == "data" and key == "dataset" and old.get(key) and new.get(key):
                before, now = repr(Path(old[key]).name), repr(Path(new[key]).name)
            if before != now:
                differences.append(f"{section}.{key}: {before} in the run, {now} asked")
    return differences


def _savez(path: Path, **arrays) -> None:
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez(f, **arrays)


def to_jsonable(value):
    """Device arrays and numpy scalars -> lists and floats."""
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()
