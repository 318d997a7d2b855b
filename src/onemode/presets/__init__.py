"""Per-dataset settings as files: a preset is a named set of an algorithm's options, with a
row per dataset where the source tunes per dataset.

Each `*.toml` file here holds one preset of one algorithm: `algo`, `name`, `source` (where
its values come from, cited), `[common]` (what applies on every dataset) and `[datasets]`
(each dataset's own options). On a dataset with a row of its own, the preset gives the
common options and that row; on any other data (a built-in task, a user's file) the common
options and the options whose value is the same in every row, and says so. `--set`
overrides a preset.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from onemode.algos import AlgoConfig, get_algo
from onemode.errors import ConfigError

__all__ = ["Preset", "all_presets", "configure", "find_preset"]

PRESET_DIR = Path(__file__).parent


@dataclasses.dataclass(frozen=True)
class Preset:
    algo: str
    name: str
    source: str
    common: dict[str, Any]
    rows: dict[str, dict[str, Any]]   # dataset name -> its own options
    path: Path

    def shared_by_all_rows(self) -> dict[str, Any]:
        """The row options whose value is the same in every row."""
        rows = list(self.rows.values())
        return {key: value for key, value in rows[0].items()
                if all(row.get(key, ...) == value for row in rows)} if rows else {}

    def values_for(self, dataset: str | None) -> tuple[dict[str, Any], str]:
        """(options, a line saying which row they came from) on the dataset named `dataset`
        (a task's name or a file's; a version suffix such as "-v2" is ignored)."""
        row = self.rows.get(dataset_key(dataset)) if dataset else None
        if row is not None:
            return {**self.common, **row}, (f"preset {self.name}: {self.algo}'s row for "
                                            f"{dataset_key(dataset)} ({_describe(row)})")
        shared = self.shared_by_all_rows()
        return {**self.common, **shared}, (
            f"preset {self.name}: no row for {dataset or 'this data'} among its "
            f"{len(self.rows)} datasets; the settings common to all rows"
            + (f" ({_describe(shared)})" if shared else ""))


def dataset_key(name: str) -> str:
    """hopper-medium-replay for hopper-medium-replay-v2, Hopper-Medium-Replay, ..."""
    return re.sub(r"-v\d+$", "", Path(name).name.lower())


def _describe(options: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in options.items())


def all_presets() -> tuple[Preset, ...]:
    """Every preset file of the package."""
    return tuple(_read(path) for path in sorted(PRESET_DIR.glob("*.toml")))


def find_preset(algo: str, name: str) -> Preset | None:
    """The preset `name` of `algo`, or None where the algorithm has none of that name."""
    return next((p for p in all_presets() if (p.algo, p.name) == (algo, name)), None)


def configure(algo: str, options: dict[str, Any], preset: str | None = None,
              dataset: str | None = None) -> tuple[AlgoConfig, str | None]:
    """`algo`'s config: its defaults, under the preset's options for `dataset` (if a preset
    is named), under `options`; and the preset's line saying which row it used."""
    note = None
    if preset is not None:
        found = find_preset(algo, preset)
        if found is None:
            names = sorted(p.name for p in all_presets() if p.algo == algo)
            raise ConfigError(f"no preset '{preset}' for {algo}; its presets: "
                              f"{', '.join(names) or 'none'} (onemode presets lists them all)")
        values, note = found.values_for(dataset)
        options = {**values, **options}
    return get_algo(algo).Config.from_dict(options), note


def _read(path: Path) -> Preset:
    try:
        values = tomllib.loads(path.read_text())
        preset = Preset(values["algo"], values["name"], values["source"],
                        dict(values.get("common", {})),
                        {key: dict(row) for key, row in values.get("datasets", {}).items()},
                        path)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: not a preset file ({type(error).__name__}: {error})") from None
    return preset
