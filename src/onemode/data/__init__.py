"""Datasets: the `Dataset` contract, file formats, normalisation and sampling."""

from onemode.data.batch import Transitions, sample, to_device
from onemode.data.dataset import Dataset, DatasetError, NormStats, rescale_actions

__all__ = ["Dataset", "DatasetError", "NormStats", "Transitions", "rescale_actions",
           "sample", "to_device"]
