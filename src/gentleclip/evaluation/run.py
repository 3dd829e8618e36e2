"""Evaluate a trained TwoTower on a data directory's held-out pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.evaluation.gap import modality_gap, plot_embeddings
from gentleclip.evaluation.retrieval import retrieval_metrics
from gentleclip.models import TwoTower


@torch.no_grad()
def embed(model: TwoTower, side: str, x: np.ndarray, *, chunk_size: int = 4096) -> Tensor:
    """L2-normalised embeddings of ``x`` through tower ``side``, in eval mode, chunked."""
    model.eval()
    if len(x) == 0:
        raise InputError(f"nothing to embed: the side-{side} input has 0 rows")
    parts = [
        model.encode(side, torch.from_numpy(x[i : i + chunk_size]))
        for i in range(0, len(x), chunk_size)
    ]
    z = torch.cat(parts)
    bad_rows = torch.nonzero(~torch.isfinite(z).all(dim=1)).flatten()
    if bad_rows.numel():
        bad = int(bad_rows[0])
        raise InputError(
            f"side-{side} embedding of row {bad} is NaN/Inf: input values too large for this "
            f"model (max |x| {float(abs(x[bad]).max()):.3g}) or non-finite model weights"
        )
    return z


def evaluate(
    model: TwoTower,
    eval_a: np.ndarray,
    eval_b: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    figure: str | Path | None = None,
    title: str = "held-out pairs",
) -> dict[str, float]:
    """Retrieval metrics, class precision (with labels) and the modality gap."""
    za, zb = embed(model, "a", eval_a), embed(model, "b", eval_b)
    metrics = retrieval_metrics(za, zb, labels)
    metrics["modality_gap"] = modality_gap(za, zb)
    if figure is not None:
        plot_embeddings(za, zb, figure, title=title, labels=labels)
    return metrics
