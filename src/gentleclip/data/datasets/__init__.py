"""Built-in datasets, loaded as fully paired arrays ready for :func:`split_full`."""

from gentleclip.data.datasets.mfeat import MFEAT_VIEWS, load_mfeat

__all__ = ["MFEAT_VIEWS", "load_mfeat"]
