"""Closed-form linear baselines fitted on the matched pairs: ridge, Procrustes, CCA.

Each side is first standardised with the mean and standard deviation of all its training
rows (paired and unpaired; label-free), and PCA bases are fitted on those same rows. Only
the alignment between the sides uses the pairs. Everything is numpy linear algebra.

- ``ridge``: ridge regression from standardised A to the PCA scores of standardised B;
  A rows embed as their prediction, B rows as their PCA scores.
- ``procrustes``: the orthogonal map between the k-dimensional PCA scores of each side that
  best superimposes the pairs (Schoenemann 1966); A scores are rotated onto B's.
- ``cca``: regularised canonical correlation analysis on the pairs' PCA scores (Hotelling
  1936); both sides embed as their canonical projections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from gentleclip.baselines.base import (
    SCALE_DEFAULTS,
    SCALE_KINDS,
    Standardizer,
    check_input,
    check_params,
    max_rank,
    pca_basis,
    require_pairs,
    standardized_rows,
    svd,
    unit_rows,
)
from gentleclip.data.regimes import RegimeData

__all__ = ["CCABaseline", "LinearEmbedder", "ProcrustesBaseline", "RidgeBaseline"]


@dataclass(frozen=True)
class LinearEmbedder:
    """``encode(side, x) = normalize(standardize_side(x) @ weights[side] + offsets[side])``."""

    standardizers: dict[str, Standardizer]
    weights: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]

    @property
    def dim(self) -> int:
        """Width of the shared space."""
        return int(self.weights["a"].shape[1])

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        """(N, dim) L2-normalised float32 embeddings of raw rows of side ``"a"`` or ``"b"``."""
        dims = {s: int(w.shape[0]) for s, w in self.weights.items()}
        x = check_input(side, x, dims)
        return unit_rows(self.standardizers[side](x) @ self.weights[side] + self.offsets[side])


class RidgeBaseline:
    """Ridge regression A -> PCA(B) on the pairs.

    ``alpha`` is relative: the penalty is ``alpha * mean squared norm of the centred paired A
    rows``, so one grid suits any feature scale. ``components`` is the number of B principal
    components forming the shared space (None: all the B training rows support).
    """

    name = "ridge"
    defaults: ClassVar[dict[str, Any]] = {"alpha": 1.0, "components": None, **SCALE_DEFAULTS}
    kinds: ClassVar[dict[str, str]] = {"alpha": "positive", "components": "count?", **SCALE_KINDS}

    def param_grid(self) -> list[dict[str, Any]]:
        """Penalties 1, 0.1, 10, 100 with all B components and with 32."""
        return [
            {"alpha": alpha, "components": components}
            for components in (None, 32)
            for alpha in (1.0, 0.1, 10.0, 100.0)
        ]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> LinearEmbedder:
        """Fit the map on the pairs (``seed`` is unused: the fit is deterministic)."""
        params = check_params(params, self.defaults, self.name, self.kinds)
        require_pairs(data, self.name, 2)
        scalers, rows = standardized_rows(data, scale=params["scale"])
        basis_b = pca_basis(rows["b"], params["components"])
        n = data.n_pairs
        x, y = rows["a"][:n], rows["b"][:n] @ basis_b
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - x_mean, y - y_mean
        gram = xc @ xc.T
        penalty = float(params["alpha"]) * max(float(np.trace(gram)) / n, 1e-12)
        weight = xc.T @ np.linalg.solve(gram + penalty * np.eye(n), yc)
        return LinearEmbedder(
            standardizers=scalers,
            weights={"a": weight, "b": basis_b},
            offsets={"a": y_mean - x_mean @ weight, "b": np.zeros(basis_b.shape[1])},
        )


class ProcrustesBaseline:
    """Orthogonal Procrustes between the k-dimensional PCA scores of the two sides.

    ``components`` is clamped to ``min(n_pairs - 1, rows, dims)``; ``whiten`` scales every
    PCA score to unit variance (over all training rows) before the rotation is fitted.
    """

    name = "procrustes"
    defaults: ClassVar[dict[str, Any]] = {"components": 16, "whiten": False, **SCALE_DEFAULTS}
    kinds: ClassVar[dict[str, str]] = {"components": "count", "whiten": "flag", **SCALE_KINDS}

    def param_grid(self) -> list[dict[str, Any]]:
        """k in 16, 8, 32, 64, each with and without whitening."""
        return [
            {"components": k, "whiten": whiten} for whiten in (False, True) for k in (16, 8, 32, 64)
        ]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> LinearEmbedder:
        """Fit the rotation on the pairs (``seed`` is unused: the fit is deterministic)."""
        params = check_params(params, self.defaults, self.name, self.kinds)
        require_pairs(data, self.name, 2)
        scalers, rows = standardized_rows(data, scale=params["scale"])
        k = min(int(params["components"]), max_rank(data), data.dim_a, data.dim_b)
        k = min(k, rows["a"].shape[0], rows["b"].shape[0])
        bases = {side: pca_basis(rows[side], k) for side in ("a", "b")}
        if params["whiten"]:
            bases = {side: _whitened(bases[side], rows[side]) for side in ("a", "b")}
        n = data.n_pairs
        u, _, vt = svd((rows["a"][:n] @ bases["a"]).T @ (rows["b"][:n] @ bases["b"]))
        rotation = u @ vt
        return LinearEmbedder(
            standardizers=scalers,
            weights={"a": bases["a"] @ rotation, "b": bases["b"]},
            offsets={"a": np.zeros(k), "b": np.zeros(k)},
        )


def _whitened(basis: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``basis`` with each column divided by the standard deviation of its scores."""
    std = (rows @ basis).std(axis=0)
    return basis / np.where(std > 1e-12, std, 1.0)


class CCABaseline:
    """Regularised CCA on the pairs, in the PCA spaces of the two sides.

    Each side is reduced to ``pca`` principal components (fitted on all its training rows);
    the within-side covariances of the paired scores are shrunk towards a multiple of the
    identity, ``C = (1 - reg) C + reg * mean(diag C) I``; the embedding is the top
    ``components`` canonical directions (clamped to ``n_pairs - 1`` and the PCA widths).
    """

    name = "cca"
    defaults: ClassVar[dict[str, Any]] = {"components": 8, "reg": 0.1, "pca": 64, **SCALE_DEFAULTS}
    kinds: ClassVar[dict[str, str]] = {
        "components": "count",
        "reg": "fraction",
        "pca": "count?",
        **SCALE_KINDS,
    }

    def param_grid(self) -> list[dict[str, Any]]:
        """k in 8, 4, 16, 32 with shrinkage 0.1 and 0.5."""
        return [
            {"components": k, "reg": reg, "pca": 64} for reg in (0.1, 0.5) for k in (8, 4, 16, 32)
        ]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> LinearEmbedder:
        """Fit the canonical directions on the pairs (``seed`` is unused)."""
        params = check_params(params, self.defaults, self.name, self.kinds)
        require_pairs(data, self.name, 2)
        reg = float(params["reg"])
        scalers, rows = standardized_rows(data, scale=params["scale"])
        bases = {side: pca_basis(rows[side], params["pca"]) for side in ("a", "b")}
        n = data.n_pairs
        scores = {side: rows[side][:n] @ bases[side] for side in ("a", "b")}
        centred = {side: s - s.mean(axis=0) for side, s in scores.items()}
        inv_sqrt = {side: _inv_sqrt(_shrunk(c.T @ c / (n - 1), reg)) for side, c in centred.items()}
        cross = centred["a"].T @ centred["b"] / (n - 1)
        u, _, vt = svd(inv_sqrt["a"] @ cross @ inv_sqrt["b"])
        k = min(int(params["components"]), max_rank(data), u.shape[1], vt.shape[0])
        weights = {
            "a": bases["a"] @ inv_sqrt["a"] @ u[:, :k],
            "b": bases["b"] @ inv_sqrt["b"] @ vt[:k].T,
        }
        return LinearEmbedder(
            standardizers=scalers, weights=weights, offsets={"a": np.zeros(k), "b": np.zeros(k)}
        )


def _shrunk(cov: np.ndarray, reg: float) -> np.ndarray:
    """``(1 - reg) cov + reg * mean(diag cov) I`` (plus a tiny ridge for reg = 0)."""
    scale = max(float(np.trace(cov)) / cov.shape[0], 1e-12)
    return (1.0 - reg) * cov + (reg * scale + 1e-9 * scale) * np.eye(cov.shape[0])


def _inv_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Inverse square root of a symmetric positive-definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T
