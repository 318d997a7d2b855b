"""`load_dataset` / `save_dataset`: pick the file format, write atomically.

Formats: "npz" (`.npz`), "hdf5" (D4RL layout, `.hdf5` / `.h5`) and "minari"
(a Minari dataset directory, or a Minari dataset id resolved under
MINARI_DATASETS_PATH). Every reader builds its Dataset with
`Dataset.from_arrays`, so validation and its messages are the same for all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from onemode.data import hdf5_io, minari_io, npz_io, ogbench_io
from onemode.data.dataset import Dataset
from onemode.errors import DatasetError
from onemode.fileio import atomic_write, fsync

FORMATS = ("npz", "hdf5", "minari")
SUFFIXES = {".npz": "npz", ".hdf5": "hdf5", ".h5": "hdf5"}


def load_dataset(path: str | os.PathLike, format: str | None = None,
                 action_bounds: tuple | None = None, env: str | None = None) -> Dataset:
    """Read and validate a dataset; `format` is inferred from `path` when None.

    `path` is a `.npz` / `.hdf5` / `.h5` file, a Minari dataset directory, or
    (when no such path exists) a Minari dataset id such as `D4RL/door/human-v2`.
    `action_bounds=(low, high)` rescales actions from those bounds to [-1, 1].
    An `.npz` in OGBench's layout is relabelled for the single task `env` names
    (`onemode.data.ogbench_io`).
    """
    fmt, resolved = _resolve_for_load(path, format)
    if fmt == "npz" and ogbench_io.is_ogbench_archive(resolved, env):
        return ogbench_io.read_ogbench(resolved, env, action_bounds)
    readers = {"npz": npz_io.read_npz, "hdf5": hdf5_io.read_hdf5,
               "minari": minari_io.read_minari}
    return readers[fmt](resolved, action_bounds=action_bounds)


def locate_dataset(path: str | os.PathLike) -> Path:
    """Where the dataset `path` names lies: the file or directory, or a Minari id's directory."""
    return _resolve_for_load(path, None)[1].resolve()


def dataset_environment(path: str | os.PathLike) -> dict:
    """The environment a dataset records (Minari metadata): env_id, ref_min/max_score or None."""
    fmt, resolved = _resolve_for_load(path, None)
    if fmt != "minari":
        return {"env_id": None, "ref_min_score": None, "ref_max_score": None}
    return minari_io.read_environment(resolved)


def save_dataset(dataset: Dataset, path: str | os.PathLike, format: str | None = None,
                 environment: dict | None = None) -> Path:
    """Write `dataset` to `path` atomically and return the path.

    `environment` ({"env_id", "ref_min_score", "ref_max_score"}, any of them None)
    goes into a Minari dataset's metadata, so it evaluates and scores with no flag.

    The data goes to a temporary file (or directory, for Minari) next to
    `path` that is then renamed onto it: an interrupted write leaves `path` as
    it was. A Minari directory is written at `path` itself; an existing one
    there is replaced, anything else there is refused.
    """
    path = Path(path).expanduser()
    fmt = _check_format(format, path) if format is not None else _format_for_save(path)
    named = SUFFIXES.get(path.suffix.lower())  # an explicit format overrides another suffix,
    if format is not None and named is not None and named != fmt:  # not one that names a format
        raise DatasetError(str(path), f"a path for the {fmt} format, not one ending in "
                           f"{path.suffix} (the {named} format's)", found=f"--format {fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "minari":
        _save_minari_dir(dataset, path, environment or {})
    else:
        _save_file(dataset, path, fmt)
    return path


# ----------------------------------------------------------- format choice
def _check_format(format: str, path) -> str:
    if format not in FORMATS:
        raise DatasetError(str(path), f"a format among {', '.join(FORMATS)}", found=repr(format))
    return format


def _resolve_for_load(path, format: str | None) -> tuple[str, Path]:
    if format is not None:
        _check_format(format, path)
    candidate = Path(path).expanduser()
    if not candidate.exists():
        found = minari_io.find_by_id(str(path)) if format in (None, "minari") else None
        if found is None:
            raise _not_found(path, format)
        return "minari", found
    if format is not None:
        return format, candidate
    return _format_of_existing(candidate), candidate


def _format_of_existing(path: Path) -> str:
    if path.is_dir():
        if minari_io.is_minari_dir(path):
            return "minari"
        raise DatasetError(str(path), "a Minari dataset directory (with data/metadata.json "
                           "and data/main_data.hdf5)", found="a directory without them")
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    raise DatasetError(str(path), "a file ending in .npz, .hdf5 or .h5 (or an explicit "
                       "format)", found=f"suffix '{path.suffix}'")


def _not_found(path, format: str | None) -> DatasetError:
    what = "an existing .npz, .hdf5 or .h5 file, a Minari dataset directory"
    if format in (None, "minari"):
        what += f", or a Minari dataset id (name-vN) under {minari_io.datasets_root()}"
    return DatasetError(str(path), what, found="no such file, directory or dataset id")


def _format_for_save(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if suffix == "" or minari_io.is_minari_dir(path):
        return "minari"
    raise DatasetError(str(path), "a path ending in .npz, .hdf5 or .h5, or a directory path "
                       "for Minari (or an explicit format)", found=f"suffix '{suffix}'")


# ---------------------------------------------------------- atomic writes
def _save_file(dataset: Dataset, path: Path, fmt: str) -> None:
    writer = npz_io.write_npz if fmt == "npz" else hdf5_io.write_hdf5
    atomic_write(path, lambda temporary: writer(dataset, temporary))


def _save_minari_dir(dataset: Dataset, path: Path, environment: dict) -> None:
    if path.exists() and not minari_io.is_minari_dir(path):
        raise FileExistsError(f"{path} exists and is not a Minari dataset directory; "
                              "refusing to replace it")
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        built = minari_io.write_minari(dataset, staging, minari_io.dataset_id_for(path),
                                       environment)
        for file in built.rglob("*"):
            if file.is_file():
                fsync(file)
        _move_into_place(built, path, staging / "replaced")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(built: Path, path: Path, aside: Path) -> None:
    """Rename `built` onto `path`; an existing `path` goes `aside` first (back on failure)."""
    if not path.exists():
        os.rename(built, path)
        return
    os.rename(path, aside)
    try:
        os.rename(built, path)
    except BaseException:
        os.rename(aside, path)
        raise
