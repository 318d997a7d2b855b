"""NumPy `.npz` files: one array per `Dataset` key.

Only the keys of the data contract are read; any other array in the archive is
ignored. Object (pickled) arrays are never unpickled.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from onemode.data.dataset import OPTIONAL_KEYS, REQUIRED_KEYS, Dataset
from onemode.errors import DatasetError

# What a damaged archive raises while it is opened or a member is decompressed.
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def read_npz(path: Path, action_bounds=None) -> Dataset:
    """Load and validate a `.npz` file written by `write_npz` or by anyone else."""
    return Dataset.from_arrays(read_npz_arrays(path), source=str(path),
                               action_bounds=action_bounds)


def read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The contract's arrays present in the archive, decompressed."""
    archive = _open_archive(path)
    with archive:
        present = [k for k in REQUIRED_KEYS + OPTIONAL_KEYS if k in archive.files]
        return {key: _read_member(archive, key, path) for key in present}


def write_npz(dataset: Dataset, path: Path) -> None:
    """Write the dataset's arrays to `path` (not atomic: see `save_dataset`)."""
    with open(path, "wb") as file:  # a file object: numpy never appends a suffix
        np.savez(file, **dataset.arrays())


def _open_archive(path: Path) -> np.lib.npyio.NpzFile:
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(str(path), "a readable .npz archive of named arrays",
                           found="a single .npy array")
    return archive


def _read_member(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DatasetError(str(path), "a numeric array", key=key,
                               found="an object (pickled) array, which is not loaded") from error
        raise _unreadable(path, error) from error
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from error


def _unreadable(path: Path, error: Exception) -> DatasetError:
    return DatasetError(str(path), "a readable .npz file (it is truncated, empty or corrupt)",
                        found=f"{type(error).__name__}: {error}")
