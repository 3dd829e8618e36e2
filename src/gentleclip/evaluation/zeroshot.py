"""Zero-shot classification through the text tower, as CLIP reports it.

Class names become prompts ("an emoji of animals & nature"); the prompts go through the same
frozen text featurizer and the text tower; each query item from the other side is assigned the
class of its most similar prompt. Reported: top-1 and top-5 accuracy and mean per-class recall
(balanced accuracy).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.evaluation.retrieval import topk_indices


def zero_shot_metrics(
    query: Tensor, prompts: Tensor, labels: np.ndarray, *, prefix: str = "zeroshot"
) -> dict[str, float]:
    """Top-1/top-5 accuracy and mean per-class recall of nearest-prompt classification.

    Args:
        query: (N, D) L2-normalised embeddings of the items to classify.
        prompts: (C, D) L2-normalised embeddings of one prompt per class.
        labels: (N,) true class index of each query in [0, C).
    """
    labels = np.asarray(labels)
    if labels.shape != (query.shape[0],):
        raise InputError(f"labels need one entry per query ({query.shape[0]}), got {labels.shape}")
    if prompts.shape[0] < 2 or labels.min() < 0 or labels.max() >= prompts.shape[0]:
        raise InputError(f"labels must index the {prompts.shape[0]} class prompts")
    k = min(5, prompts.shape[0])
    top, _ = topk_indices(query, prompts, k)
    top = top.numpy()
    hit1 = top[:, 0] == labels
    hit5 = (top == labels[:, None]).any(axis=1)
    recalls = [hit1[labels == c].mean() for c in np.unique(labels)]
    return {
        f"{prefix}_top1": float(hit1.mean()),
        f"{prefix}_top5": float(hit5.mean()),
        f"{prefix}_mean_class_recall": float(np.mean(recalls)),
    }


def as_unit(x: np.ndarray | Tensor) -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.nn.functional.normalize(x, dim=1)
