from __future__ import annotations

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.evaluation.zeroshot import as_unit, zero_shot_metrics


def test_zero_shot_against_a_loop_reference() -> None:
    rng = np.random.default_rng(0)
    prompts = as_unit(rng.normal(size=(7, 5)))
    labels = rng.integers(0, 7, size=40)
    query = as_unit(prompts.numpy()[labels] + 0.9 * rng.normal(size=(40, 5)))
    got = zero_shot_metrics(query, prompts, labels, prefix="zs")
    sims = query.numpy() @ prompts.numpy().T
    order = np.argsort(-sims, axis=1)
    top1 = np.mean(order[:, 0] == labels)
    top5 = np.mean([labels[i] in order[i, :5] for i in range(40)])
    per_class = [np.mean(order[labels == c, 0] == c) for c in np.unique(labels)]
    assert got["zs_top1"] == pytest.approx(top1)
    assert got["zs_top5"] == pytest.approx(top5)
    assert got["zs_mean_class_recall"] == pytest.approx(np.mean(per_class))
    assert 0 < top1 < 1  # the case is not trivial


def test_zero_shot_perfect_and_bad_labels() -> None:
    prompts = torch.eye(3)
    got = zero_shot_metrics(prompts[[0, 1, 2, 2]], prompts, np.array([0, 1, 2, 2]))
    assert got["zeroshot_top1"] == 1.0 and got["zeroshot_mean_class_recall"] == 1.0
    with pytest.raises(InputError, match="index"):
        zero_shot_metrics(prompts, prompts, np.array([0, 1, 3]))
    with pytest.raises(InputError, match="one entry per query"):
        zero_shot_metrics(prompts, prompts, np.array([0, 1]))
