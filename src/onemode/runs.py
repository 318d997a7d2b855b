"""A run: its training config, and its directory of config, metrics, statistics and checkpoints.

    RUN/config.json       what was run (algorithm config, training config, data)
    RUN/obs_stats.npz     normalisation statistics, used for training and acting
    RUN/metrics.jsonl     one JSON object per log or evaluation point
    RUN/checkpoint.npz    the latest training state of every seed, written atomically:
                          one array per named leaf of the state, and a format version
    RUN/tb/               TensorBoard events, when tensorboardX is installed

Every file is written to a temporary name in the same folder, then renamed,
so a killed run leaves the last good file in place.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import jax
import numpy as np

from onemode.algos import get_algo
from onemode.algos.config import AUTO, AlgoConfig, check
from onemode.data import DataSpec, NormStats
from onemode.errors import CheckpointError, ConfigError
from onemode.fileio import append_jsonl, atomic_write, read_jsonl

CHECKPOINT_FORMAT = 2  # 1: leaves stored by position (before named leaves)
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error)


@dataclasses.dataclass(frozen=True)
class TrainConfig(AlgoConfig):
    steps: int = 100_000          # updates of the algorithm's main phase
    seeds: tuple[int, ...] = (0,)
    log_every: int = 1_000
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 10_000
    holdout_fraction: float = 0.05  # episodes kept out of training, to score the behaviour model

    def validate(self):
        check(self.steps >= 0, f"steps must be >= 0, got {self.steps}")
        check(len(self.seeds) >= 1, "give at least one seed")
        check(len(set(self.seeds)) == len(self.seeds), f"seeds repeat: {self.seeds}")
        check(all(0 <= seed < 2**31 for seed in self.seeds),
              f"seeds must be integers in [0, 2^31), got {self.seeds}")
        for name in ("log_every", "eval_every", "checkpoint_every", "eval_episodes"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(0 <= self.holdout_fraction < 1, "holdout_fraction must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What a run's config.json holds: the algorithm and its config, the training config,
    the data spec and the data's shapes. Read once, validated once (`RunDir.read_record`).
    A run planned before its data is loaded has no shapes yet (None)."""

    algo: str
    algo_config: AlgoConfig
    train_config: TrainConfig
    data: DataSpec
    obs_dim: int | None = None
    act_dim: int | None = None
    # options asked as "auto" that the run resolved from the data (their values: algo_config)
    chosen_by_run: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        values = {"algo": self.algo, "algo_config": self.algo_config.to_dict(),
                  "train_config": self.train_config.to_dict(), "data": self.data.to_dict(),
                  "obs_dim": self.obs_dim, "act_dim": self.act_dim}
        if self.chosen_by_run:
            values["chosen_by_run"] = list(self.chosen_by_run)
        return values

    @classmethod
    def from_dict(cls, values: Any, source: str = "config.json") -> "RunRecord":
        """A record from its JSON; anything that does not make one is refused in one line
        naming `source`. Options added to onemode after the run was written take their
        defaults, which is what the run did before they existed."""
        keys = ("algo", "algo_config", "train_config", "data", "obs_dim", "act_dim")
        if not isinstance(values, dict):
            raise CheckpointError(f"{source}: expected a JSON object, found "
                                  f"{type(values).__name__}")
        missing = [key for key in keys if key not in values]
        if missing:
            raise CheckpointError(f"{source}: no '{missing[0]}' (a run record holds "
                                  f"{', '.join(keys)})")
        try:
            algo = get_algo(values["algo"])
            for key in ("obs_dim", "act_dim"):
                if not isinstance(values[key], int) or values[key] < 1:
                    raise ConfigError(f"'{key}' must be a positive integer, got {values[key]!r}")
            chosen = values.get("chosen_by_run", [])
            if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
                raise ConfigError(f"'chosen_by_run' must be a list of option names, got "
                                  f"{chosen!r}")
            return cls(values["algo"], algo.Config.from_dict(values["algo_config"]),
                       TrainConfig.from_dict(values["train_config"]),
                       DataSpec.from_dict(values["data"]), values["obs_dim"], values["act_dim"],
                       tuple(chosen))
        except (ConfigError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{source}: {error}") from None


def leaf_names(state: Any) -> list[str]:
    """A name per leaf of `state`, from its path: `critic.params.params.Dense_0.kernel`."""
    def name(path):
        return ".".join(str(getattr(key, "name", getattr(key, "key", getattr(key, "idx", key))))
                        for key in path)

    return [name(path) for path, _ in jax.tree_util.tree_flatten_with_path(state)[0]]


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
        """config.json as JSON (`read_record` types an offline run's)."""
        if not self.exists():
            raise FileNotFoundError(f"{self.path}: not a run directory (no config.json)")
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{self.config_path}: unreadable run record "
                                  f"({type(error).__name__}: {error})") from None

    def write_record(self, record: RunRecord) -> None:
        self.write_config(record.to_dict())

    def read_record(self) -> RunRecord:
        return RunRecord.from_dict(self.read_config(), str(self.config_path))

    # ------------------------------------------------------------ statistics
    def write_stats(self, stats: NormStats) -> None:
        atomic_write(self.path / "obs_stats.npz",
                     lambda tmp: _savez(tmp, mean=stats.mean, std=stats.std))

    def read_stats(self) -> NormStats:
        path = self.path / "obs_stats.npz"
        try:
            with np.load(path, allow_pickle=False) as f:
                return NormStats(f["mean"], f["std"])
        except _READ_ERRORS as error:
            raise CheckpointError(f"{path}: unreadable normalisation statistics "
                                  f"({type(error).__name__}: {error})") from error

    # ----------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.npz"

    def save_checkpoint(self, step: int, state: Any, keys: jax.Array,
                        extra: dict[str, np.ndarray] | None = None) -> None:
        """Write the state (named leaves), and `extra` arrays beside it, in one atomic file."""
        names = leaf_names(state)
        if len(set(names)) != len(names):
            raise ValueError(f"two leaves of the state share a name: {sorted(names)}")
        arrays = {f"state/{name}": np.asarray(leaf)
                  for name, leaf in zip(names, jax.tree.leaves(state))}
        arrays |= {f"extra/{name}": np.asarray(value) for name, value in (extra or {}).items()}
        atomic_write(self.checkpoint_path,
                     lambda tmp: _savez(tmp, format=np.int64(CHECKPOINT_FORMAT),
                                        step=np.int64(step), keys=np.asarray(keys), **arrays))

    def load_checkpoint(self, template: Any) -> tuple[int, Any, np.ndarray]:
        """(step, state, keys); `template` is a state of the structure the run's config builds.

        A checkpoint of another format, another structure, or a damaged file is refused
        with a `CheckpointError` naming the file.
        """
        path = self.checkpoint_path
        names, treedef = leaf_names(template), jax.tree.structure(template)
        arrays = self._read_checkpoint()
        version = int(arrays["format"]) if "format" in arrays else 1
        if version != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: checkpoint format {version}, this onemode reads "
                                  f"format {CHECKPOINT_FORMAT}; train the run again into a "
                                  f"new --out")
        stored = {n[len("state/"):] for n in arrays if n.startswith("state/")}
        if stored != set(names):
            missing, extra = sorted(set(names) - stored), sorted(stored - set(names))
            raise CheckpointError(f"{path}: the checkpoint's state does not match the run's "
                                  f"config (missing {missing[:3]}, unexpected {extra[:3]})")
        leaves = [arrays[f"state/{n}"] for n in names]
        step, keys = int(arrays["step"]), arrays["keys"]
        for name, old, new in zip(names, jax.tree.leaves(template), leaves):
            if (tuple(old.shape), np.dtype(old.dtype)) != (new.shape, new.dtype):
                raise CheckpointError(f"{path}: '{name}' is {new.dtype}{list(new.shape)}, "
                                      f"the run's config builds "
                                      f"{np.dtype(old.dtype)}{list(old.shape)}")
        return step, jax.tree.unflatten(treedef, leaves), keys

    def load_checkpoint_extra(self) -> dict[str, np.ndarray]:
        """The `extra` arrays `save_checkpoint` stored (call after `load_checkpoint`)."""
        return {n[len("extra/"):]: array for n, array in self._read_checkpoint().items()
                if n.startswith("extra/")}

    def _read_checkpoint(self) -> dict[str, np.ndarray]:
        """Every array of checkpoint.npz, or a `CheckpointError` naming the damaged file."""
        try:
            with np.load(self.checkpoint_path, allow_pickle=False) as f:
                return {name: f[name] for name in f.files}
        except _READ_ERRORS as error:
            raise CheckpointError(f"{self.checkpoint_path}: unreadable checkpoint (it is "
                                  f"truncated or damaged: {type(error).__name__}: {error})"
                                  ) from error

    # --------------------------------------------------------------- metrics
    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def append_metrics(self, record: dict) -> None:
        append_jsonl(self.metrics_path, record)
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
        """Every record of metrics.jsonl (`fileio.read_jsonl`: a last line cut short by a
        kill is left out; a damaged one is refused naming file and line)."""
        return read_jsonl(self.metrics_path, required=("step", "phase"))

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past `after_step` (a resumed run writes them again)."""
        kept = [r for r in self.read_metrics() if r["step"] <= after_step]
        atomic_write(self.metrics_path, lambda tmp: tmp.write_text(
            "".join(json.dumps(r) + "\n" for r in kept)))


# Training settings a resumed run may change: how long it runs, how often it logs and
# evaluates, and with how many episodes. None of them changes an update.
RESUMABLE_SETTINGS = frozenset({"steps", "log_every", "eval_every", "checkpoint_every",
                                "eval_episodes"})


def config_differences(stored: RunRecord, asked: RunRecord, may_change=frozenset()) -> list[str]:
    """Where the run `asked` for differs from the one a config.json `stored`.

    Compares the algorithm, the data's shapes, the algorithm config, the training config
    (less the keys in `may_change`) and the data spec. A dataset file counts as the same
    by its name, so a bench folder that was moved or copied still matches the data under
    its OUT/data. An option added to onemode after the run was trained is read at its
    default (`RunRecord.from_dict`), which is what the run did before the option existed.
    """
    old, new = stored.to_dict(), json.loads(json.dumps(asked.to_dict()))  # tuples as stored
    differences = [f"{key}: {old[key]!r} in the run, {new[key]!r} asked"
                   for key in ("algo", "obs_dim", "act_dim")
                   if new[key] is not None and old[key] != new[key]]
    for section in ("algo_config", "train_config", "data"):
        for key in sorted(set(old[section]) | set(new[section])):
            if section == "train_config" and key in may_change:
                continue
            before, now = old[section].get(key), new[section].get(key)
            if section == "algo_config" and now == AUTO and key in stored.chosen_by_run:
                continue  # asked auto, and the run chose this value itself
            if section == "data" and key == "dataset" and before and now:
                before, now = Path(before).name, Path(now).name
            if before != now:
                differences.append(f"{section}.{key}: {before!r} in the run, {now!r} asked")
    return differences


def _savez(path: Path, **arrays) -> None:
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez(f, **arrays)


def to_jsonable(value):
    """Device arrays and numpy scalars -> lists and floats."""
    array = np.asarray(value)
    return array.item() if array.ndim == 0 else array.tolist()


__all__ = ["RESUMABLE_SETTINGS", "RunDir", "RunRecord", "TrainConfig", "config_differences",
           "leaf_names", "to_jsonable"]
