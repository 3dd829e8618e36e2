"""Evaluation of a shared embedding space: retrieval metrics, modality gap and reports.

Everything here takes embedding tensors (``(N, D)``, row ``i`` of each modality forming a
held-out pair) and knows nothing about models, training or data loading.
"""

from __future__ import annotations

from gentleclip.evaluation.gap import modality_gap, plot_embeddings
from gentleclip.evaluation.report import format_table, plot_metric_bars, write_json_atomic
from gentleclip.evaluation.retrieval import ranks, retrieval_metrics, topk_indices

__all__ = [
    "format_table",
    "modality_gap",
    "plot_embeddings",
    "plot_metric_bars",
    "ranks",
    "retrieval_metrics",
    "topk_indices",
    "write_json_atomic",
]
