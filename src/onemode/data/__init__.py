"""Datasets: the `Dataset` contract, file formats, normalisation and sampling."""

from onemode.data.batch import Transitions, sample, to_device
from onemode.data.dataset import Dataset, DatasetError, NormStats, rescale_actions
from onemode.data.io import load_dataset, save_dataset

__all__ = ["Dataset", "DatasetError", "NormStats", "Transitions", "load_dataset",
           "rescale_actions", "sample", "save_dataset", "to_device"]
