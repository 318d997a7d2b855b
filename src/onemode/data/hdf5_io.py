"""D4RL-layout HDF5 files.

Top-level datasets `observations`, `actions`, `rewards`, `terminals`,
`timeouts` and optionally `next_observations`. Every other key (`infos/...`,
`metadata/...`) is ignored, so files written by D4RL or anyone else load as
they are; `Dataset.from_arrays` accepts (N, 1) rewards and float or bool flags.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from onemode.data.dataset import OPTIONAL_KEYS, REQUIRED_KEYS, Dataset
from onemode.errors import DatasetError


def read_hdf5(path: Path, action_bounds=None) -> Dataset:
    """Load and validate a D4RL-layout HDF5 file."""
    return Dataset.from_arrays(read_hdf5_arrays(path), source=str(path),
                               action_bounds=action_bounds)


def read_hdf5_arrays(path: Path) -> dict[str, np.ndarray]:
    """The contract's top-level datasets present in the file, read into memory."""
    try:
        with h5py.File(path, "r") as file:
            present = [k for k in REQUIRED_KEYS + OPTIONAL_KEYS if k in file]
            return {key: _read_dataset(file, key, path) for key in present}
    except OSError as error:  # h5py's error for truncated, empty or corrupt files
        raise DatasetError(str(path), "a readable HDF5 file (it is truncated, empty or corrupt)",
                           found=f"{type(error).__name__}: {error}") from error


def write_hdf5(dataset: Dataset, path: Path) -> None:
    """Write the dataset's arrays as top-level datasets (not atomic: see `save_dataset`)."""
    with h5py.File(path, "w") as file:
        for key, array in dataset.arrays().items():
            file.create_dataset(key, data=array)


def _read_dataset(file: h5py.File, key: str, path: Path) -> np.ndarray:
    node = file[key]
    if not isinstance(node, h5py.Dataset):
        raise DatasetError(str(path), "an HDF5 dataset (an array)", key=key,
                           found=f"a {type(node).__name__}")
    return node[()]
