"""Relative representations / ASIF: describe every row by its similarity to the anchors.

The matched pairs are the anchors. A row of side A is standardised (statistics of all A
training rows, label-free), optionally reduced to ``pca`` principal components, and
described by its cosine similarities to the ``n_pairs`` paired A rows; a B row likewise by
its similarities to the paired B rows. Anchor ``j`` is the same object on both sides, so the
two descriptions live in one ``n_pairs``-dimensional space without any training.
ASIF (Norelli et al., NeurIPS 2023) sparsifies the description to the ``top_k`` largest
similarities and raises them to a ``power`` (sign kept); relative representations (Moschella
et al., ICLR 2023) keep all similarities (``top_k=None``, ``power=1``).
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
    pca_basis,
    require_pairs,
    standardized_rows,
    unit_rows,
)
from gentleclip.data.regimes import RegimeData

__all__ = ["RelRepBaseline", "RelRepEmbedder", "relative_codes"]


def relative_codes(
    queries: np.ndarray, anchors: np.ndarray, *, top_k: int | None, power: float
) -> np.ndarray:
    """Cosine similarities of ``queries`` (N, d) to ``anchors`` (M, d), sparsified and powered.

    Row ``i`` keeps its ``top_k`` largest similarities (all when None or >= M), the rest set
    to 0; the row is divided by its largest ``|s|`` (a positive factor, which the embedding's
    L2-normalisation removes, so that high powers cannot underflow) and every value ``s``
    becomes ``sign(s) * |s| ** power``. Returns (N, M).
    """
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    k = anchors / np.maximum(np.linalg.norm(anchors, axis=1, keepdims=True), 1e-12)
    sims = q @ k.T
    if top_k is not None and top_k < sims.shape[1]:
        cutoff = np.argpartition(-sims, top_k - 1, axis=1)[:, top_k:]
        np.put_along_axis(sims, cutoff, 0.0, axis=1)
    sims = sims / np.maximum(np.abs(sims).max(axis=1, keepdims=True), 1e-300)
    return np.sign(sims) * np.abs(sims) ** power


@dataclass(frozen=True)
class RelRepEmbedder:
    """Embeds rows of either side as their (sparsified, powered) similarities to the anchors."""

    standardizers: dict[str, Standardizer]
    bases: dict[str, np.ndarray]
    anchors: dict[str, np.ndarray]
    top_k: int | None
    power: float

    @property
    def dim(self) -> int:
        """Width of the shared space: the number of anchors (pairs)."""
        return int(self.anchors["a"].shape[0])

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        """(N, n_pairs) L2-normalised float32 codes of raw rows of side ``"a"`` or ``"b"``."""
        dims = {s: int(basis.shape[0]) for s, basis in self.bases.items()}
        x = check_input(side, x, dims)
        features = self.standardizers[side](x) @ self.bases[side]
        codes = relative_codes(features, self.anchors[side], top_k=self.top_k, power=self.power)
        return unit_rows(codes)


class RelRepBaseline:
    """Relative representations (``top_k=None, power=1``) and ASIF-style sparse codes."""

    name = "relrep"
    defaults: ClassVar[dict[str, Any]] = {
        "top_k": None,
        "power": 1.0,
        "pca": None,
        **SCALE_DEFAULTS,
    }
    kinds: ClassVar[dict[str, str]] = {
        "top_k": "count?",
        "power": "positive",
        "pca": "count?",
        **SCALE_KINDS,
    }

    def param_grid(self) -> list[dict[str, Any]]:
        """Dense and top-k codes with powers 1, 3 and 8, on the standardised features."""
        return [
            {"top_k": None, "power": 1.0, "pca": None},
            {"top_k": None, "power": 3.0, "pca": None},
            {"top_k": None, "power": 8.0, "pca": None},
            {"top_k": 5, "power": 1.0, "pca": None},
            {"top_k": 5, "power": 3.0, "pca": None},
            {"top_k": 10, "power": 3.0, "pca": None},
            {"top_k": 10, "power": 8.0, "pca": None},
            {"top_k": None, "power": 1.0, "pca": 32},
        ]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> RelRepEmbedder:
        """Store the anchors (``seed`` is unused: nothing is random)."""
        params = check_params(params, self.defaults, self.name, self.kinds)
        require_pairs(data, self.name, 1)
        top_k, power = params["top_k"], float(params["power"])
        scalers, rows = standardized_rows(data, scale=params["scale"])
        bases: dict[str, np.ndarray] = {}
        anchors: dict[str, np.ndarray] = {}
        for side, standardized in rows.items():
            if params["pca"] is None:
                bases[side] = np.eye(standardized.shape[1])
            else:
                bases[side] = pca_basis(standardized, params["pca"])
            anchors[side] = standardized[: data.n_pairs] @ bases[side]
        return RelRepEmbedder(
            standardizers=scalers,
            bases=bases,
            anchors=anchors,
            top_k=None if top_k is None else int(top_k),
            power=power,
        )
