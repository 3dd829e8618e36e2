"""Evaluate a trained TwoTower, or a fitted baseline, on a data directory's held-out pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gentleclip.baselines.saved import SavedBaseline, is_saved_baseline, load_embedder
from gentleclip.errors import InputError
from gentleclip.evaluation.gap import modality_gap, plot_embeddings
from gentleclip.evaluation.retrieval import retrieval_metrics
from gentleclip.models import TwoTower

Model = TwoTower | SavedBaseline


def load_model(directory: str | Path) -> Model:
    """The model in a run's ``model/`` folder: a trained TwoTower (``gentleclip train``) or a
    fitted baseline (``gentleclip fit``), told apart by its ``config.json``."""
    if is_saved_baseline(directory):
        return load_embedder(directory)
    return TwoTower.from_pretrained(directory)


def input_dim(model: Model, side: str) -> int:
    """Features a row of ``side`` must have for ``model``."""
    if isinstance(model, TwoTower):
        return int(model.towers[model._check_side(side)].input_dim)
    return model.input_dim(side)


def output_dim(model: Model) -> int:
    """Width of ``model``'s shared space."""
    return int(model.config.embed_dim) if isinstance(model, TwoTower) else model.dim


@torch.no_grad()
def embed(model: Model, side: str, x: np.ndarray, *, chunk_size: int = 4096) -> Tensor:
    """L2-normalised embeddings of ``x`` through tower ``side`` (eval mode) or the fitted
    baseline's map for that side, chunked."""
    if len(x) == 0:
        raise InputError(f"nothing to embed: the side-{side} input has 0 rows")
    if isinstance(model, TwoTower):
        model.eval()

    def encode(rows: np.ndarray) -> Tensor:
        if isinstance(model, TwoTower):
            return model.encode(side, torch.from_numpy(rows))
        return model.encode(side, rows)

    parts = [encode(x[i : i + chunk_size]) for i in range(0, len(x), chunk_size)]
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
    model: Model,
    eval_a: np.ndarray,
    eval_b: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    figure: str | Path | None = None,
    title: str = "held-out pairs",
    ties: str = "expected",
) -> dict[str, float]:
    """Retrieval metrics, class precision (with labels) and the modality gap; ``ties`` is the
    rule for tied similarities (:mod:`gentleclip.evaluation.retrieval`)."""
    za, zb = embed(model, "a", eval_a), embed(model, "b", eval_b)
    metrics = retrieval_metrics(za, zb, labels, ties=ties)
    metrics["modality_gap"] = modality_gap(za, zb)
    if figure is not None:
        plot_embeddings(za, zb, figure, title=title, labels=labels)
    return metrics
