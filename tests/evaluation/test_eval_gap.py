"""Modality gap closed forms and the PCA scatter plot file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.evaluation import modality_gap, plot_embeddings
from gentleclip.evaluation.gap import _pca_2d

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_gap_of_translated_set_is_translation_norm() -> None:
    za = _randn(50, 6, seed=0)
    shift = torch.tensor([3.0, -4.0, 0.0, 0.0, 12.0, 0.0], dtype=torch.float64)
    assert modality_gap(za, za + shift) == pytest.approx(13.0, abs=1e-12)
    assert modality_gap(za + shift, za) == pytest.approx(13.0, abs=1e-12)


def test_gap_identical_sets_and_permutation_is_zero() -> None:
    za = _randn(20, 4, seed=1)
    assert modality_gap(za, za) == 0.0
    assert modality_gap(za, za[torch.randperm(20)]) == pytest.approx(0.0, abs=1e-12)


def test_gap_matches_numpy_with_different_row_counts() -> None:
    za = _randn(30, 5, seed=2)
    zb = _randn(11, 5, seed=3) + 0.5
    want = np.linalg.norm(za.numpy().mean(0) - zb.numpy().mean(0))
    assert modality_gap(za, zb) == pytest.approx(float(want), rel=1e-12)
    assert modality_gap(za.float().numpy(), zb.float()) == pytest.approx(float(want), rel=1e-6)


def test_gap_antipodal_cones() -> None:
    """Two single points on opposite poles of the unit sphere are 2 apart."""
    e = torch.tensor([[0.0, 1.0]])
    assert modality_gap(e, -e) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("za", "zb", "match"),
    [
        (torch.ones(3, 2), torch.ones(3, 4), "dimensions differ"),
        (torch.empty(0, 2), torch.ones(3, 2), "empty"),
        (torch.tensor([[math.nan, 1.0]]), torch.ones(3, 2), "NaN"),
        (torch.ones(3), torch.ones(3, 2), "2-D"),
    ],
)
def test_gap_validation(za: torch.Tensor, zb: torch.Tensor, match: str) -> None:
    with pytest.raises(InputError, match=match):
        modality_gap(za, zb)


def test_pca_basis_spans_top_directions() -> None:
    """Data varying mostly along x0 and x2 gives those two axes (up to sign)."""
    base = _randn(200, 4, seed=4) * torch.tensor([10.0, 0.1, 3.0, 0.01], dtype=torch.float64)
    mean, basis = _pca_2d(base + 7.0)
    assert torch.allclose(mean, base.mean(0) + 7.0)
    assert torch.allclose(basis.abs(), torch.eye(4, dtype=torch.float64)[:, [0, 2]], atol=1e-2)
    assert torch.allclose(basis.T @ basis, torch.eye(2, dtype=torch.float64), atol=1e-12)


def test_pca_one_dimensional_input_pads_second_axis() -> None:
    _, basis = _pca_2d(_randn(10, 1, seed=5))
    assert basis.shape == (1, 2)
    assert basis[0, 1] == 0.0


def _assert_single_png(directory: Path, name: str) -> None:
    assert sorted(p.name for p in directory.iterdir()) == [name]
    data = (directory / name).read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000


def test_plot_writes_png_without_temp_files(tmp_path: Path) -> None:
    za = torch.nn.functional.normalize(_randn(80, 16, seed=6), dim=1)
    zb = torch.nn.functional.normalize(_randn(80, 16, seed=7) + 0.5, dim=1)
    out = tmp_path / "nested" / "emb.png"
    plot_embeddings(za, zb, out, title="test", max_points=30)
    _assert_single_png(out.parent, "emb.png")


def test_plot_with_labels_and_overwrite(tmp_path: Path) -> None:
    za = _randn(40, 3, seed=8)
    zb = _randn(40, 3, seed=9)
    out = tmp_path / "emb.png"
    out.write_bytes(b"old")
    plot_embeddings(za, zb, out, labels=np.array(["a", "b"] * 20))
    plot_embeddings(za, zb, str(out), labels=torch.arange(40) % 13)  # > 10 classes
    _assert_single_png(tmp_path, "emb.png")


def test_plot_one_dimensional_embeddings(tmp_path: Path) -> None:
    plot_embeddings(_randn(10, 1, seed=10), _randn(12, 1, seed=11), tmp_path / "one.png")
    _assert_single_png(tmp_path, "one.png")


def test_plot_validation_leaves_nothing(tmp_path: Path) -> None:
    za = _randn(5, 3, seed=12)
    with pytest.raises(InputError, match="labels"):
        plot_embeddings(za, za, tmp_path / "x.png", labels=[0, 1])
    with pytest.raises(InputError, match="equal row counts"):
        plot_embeddings(za, za[:4], tmp_path / "x.png", labels=[0] * 5)
    with pytest.raises(InputError, match="max_points"):
        plot_embeddings(za, za, tmp_path / "x.png", max_points=0)
    with pytest.raises(InputError, match="dimensions differ"):
        plot_embeddings(za, torch.ones(5, 2), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
