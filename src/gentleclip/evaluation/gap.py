"""The modality gap and a 2-D picture of the shared embedding space.

The modality gap (Liang et al. 2022, "Mind the Gap") is the Euclidean distance between the
centroids (mean embeddings) of the two modalities. :func:`plot_embeddings` draws both
modalities after a 2-D PCA of the pooled, centred embeddings, with the centroids joined by a
line labelled with the (full-dimensional) gap.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.evaluation.retrieval import as_embedding_matrix


def _check_same_dim(za: Tensor | np.ndarray, zb: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    """Validate both matrices, require equal ``D`` and return float64 CPU copies."""
    a = as_embedding_matrix(za, "za").to("cpu", torch.float64)
    b = as_embedding_matrix(zb, "zb").to("cpu", torch.float64)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"za and zb dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return a, b


def modality_gap(za: Tensor | np.ndarray, zb: Tensor | np.ndarray) -> float:
    """Euclidean distance between the mean of ``za`` (N_a, D) and the mean of ``zb`` (N_b, D).

    The two sets need not have the same number of rows. Computed in float64.
    """
    a, b = _check_same_dim(za, zb)
    return float(torch.linalg.vector_norm(a.mean(dim=0) - b.mean(dim=0)))


def _pca_2d(pooled: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``(mean, basis)``: the pooled mean (D,) and top-2 principal axes (D, 2).

    Uses an eigendecomposition of the D x D scatter matrix. With ``D == 1`` the second
    axis is zero, so every point lies on the x axis.
    """
    mean = pooled.mean(dim=0)
    centred = pooled - mean
    eigvals, eigvecs = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    basis = eigvecs[:, torch.argsort(eigvals, descending=True)[:2]]
    if basis.shape[1] < 2:
        basis = torch.cat([basis, torch.zeros_like(basis)], dim=1)
    return mean, basis


def _subsample(n: int, max_points: int) -> Tensor:
    """Deterministic subset of at most ``max_points`` row indices (seeded, sorted)."""
    if n <= max_points:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(0)
    return torch.randperm(n, generator=gen)[:max_points].sort().values


def _class_colours(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """RGBA colour per class code, consistent across both modalities (cycles past 20)."""
    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return cmap(codes % cmap.N)


def _scatter(ax: Axes, xy: np.ndarray, marker: str, name: str, colours: np.ndarray | None) -> None:
    """Scatter one modality; colour by class when ``colours`` is given, else by modality."""
    style = {"marker": marker, "s": 12, "alpha": 0.6, "label": name, "linewidths": 0}
    if colours is None:
        ax.scatter(xy[:, 0], xy[:, 1], **style)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], c=colours, **style)


def _label_codes(labels: Tensor | np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """Integer class codes for labels shared by the paired rows of ``za`` and ``zb``."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if n_a != n_b:
        raise InputError(f"labels need paired za and zb with equal row counts, got {n_a} and {n_b}")
    if arr.ndim != 1 or arr.shape[0] != n_a:
        raise InputError(f"labels must have shape ({n_a},), got {tuple(arr.shape)}")
    return np.unique(arr, return_inverse=True)[1].reshape(-1)


def plot_embeddings(
    za: Tensor | np.ndarray,
    zb: Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str = "Shared embedding space (PCA)",
    labels: Tensor | np.ndarray | None = None,
    max_points: int = 2000,
) -> None:
    """Write a PNG scatter of both modalities in the 2-D PCA of the pooled embeddings.

    The PCA and both centroids use all rows; only the drawn points are subsampled to at
    most ``max_points`` per modality (deterministically). With ``labels`` (one per pair,
    requiring equal row counts) points are coloured by class and the modality is shown
    by the marker. The file is written atomically; parent directories are created.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise InputError(f"max_points must be a positive integer, got {max_points!r}")
    a, b = _check_same_dim(za, zb)
    colours = None
    if labels is not None:
        codes = _label_codes(labels, a.shape[0], b.shape[0])
        colours = _class_colours(codes, int(codes.max()) + 1)
    mean, basis = _pca_2d(torch.cat([a, b]))
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    for name, z, marker in (("modality A", a, "o"), ("modality B", b, "^")):
        keep = _subsample(z.shape[0], max_points)
        xy = ((z[keep] - mean) @ basis).numpy()
        _scatter(ax, xy, marker, name, None if colours is None else colours[keep.numpy()])
    centroids = [((z.mean(dim=0) - mean) @ basis).numpy() for z in (a, b)]
    _draw_centroids(ax, centroids[0], centroids[1], modality_gap(a, b))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    legend = ax.legend(loc="best")
    if colours is not None:  # class colours vary: show the modality markers in grey
        for handle in legend.legend_handles[:2]:
            handle.set_color("grey")
    fig.tight_layout()
    save_figure_atomic(fig, path)


def _draw_centroids(ax: Axes, ca: np.ndarray, cb: np.ndarray, gap: float) -> None:
    """Mark both projected centroids, join them and annotate the full-D ``gap``."""
    ax.plot([ca[0], cb[0]], [ca[1], cb[1]], color="black", linewidth=1.5, zorder=3)
    ax.scatter([ca[0]], [ca[1]], marker="X", s=120, color="black", zorder=4, label="centroid A")
    ax.scatter([cb[0]], [cb[1]], marker="P", s=120, color="black", zorder=4, label="centroid B")
    mid = (ca + cb) / 2
    ax.annotate(
        f"gap = {gap:.3f}",
        (float(mid[0]), float(mid[1])),
        textcoords="offset points",
        xytext=(6, 6),
        fontsize=10,
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8},
    )
