"""Data regimes (pairs, bags, unpaired), dataset directories, splits and step sampling.

Pure numpy: nothing here imports torch or the model, training or loss code.
"""

from gentleclip.data.io import load_array, save_array_atomic
from gentleclip.data.regimes import Regime, RegimeData, load_dataset_dir, load_full_npz
from gentleclip.data.sampler import StepIndices, StepSampler
from gentleclip.data.split import split_full, write_dataset_dir

__all__ = [
    "Regime",
    "RegimeData",
    "StepIndices",
    "StepSampler",
    "load_array",
    "load_dataset_dir",
    "load_full_npz",
    "save_array_atomic",
    "split_full",
    "write_dataset_dir",
]
