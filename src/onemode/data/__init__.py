"""Datasets: the `Dataset` contract, file formats, normalisation, sampling and data specs."""

from onemode.data.batch import Transitions, sample, to_device
from onemode.data.dataset import Dataset, NormStats, native_actions, rescale_actions
from onemode.data.io import load_dataset, save_dataset
from onemode.data.spec import DataSpec, split_holdout
from onemode.errors import DatasetError

__all__ = ["DataSpec", "Dataset", "DatasetError", "NormStats", "Transitions", "load_dataset",
           "native_actions", "rescale_actions", "sample", "save_dataset", "split_holdout",
           "to_device"]
