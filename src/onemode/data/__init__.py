"""Datasets: the `Dataset` contract, file formats, normalisation, sampling and data specs."""

from onemode.data.batch import Transitions, sample, to_device
from onemode.data.dataset import (Dataset, DatasetError, NormStats, native_actions,
                                  rescale_actions)
from onemode.data.io import load_dataset, save_dataset
from onemode.data.spec import data_spec, load_data, split_holdout

__all__ = ["Dataset", "DatasetError", "NormStats", "Transitions", "data_spec", "load_data",
           "load_dataset", "native_actions", "rescale_actions", "sample", "save_dataset",
           "split_holdout", "to_device"]
