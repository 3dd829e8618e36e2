"""Relative representations / ASIF codes: loop reference, recovery, few and zero pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gentleclip.baselines import get_baseline
from gentleclip.baselines.relrep import RelRepBaseline, relative_codes
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.evaluation.retrieval import retrieval_metrics


def _codes_loop(queries: np.ndarray, anchors: np.ndarray, top_k: int | None, power: float):
    out = []
    for q in queries:
        sims = [float(q @ a) / (math.sqrt(float(q @ q)) * math.sqrt(float(a @ a))) for a in anchors]
        order = sorted(range(len(sims)), key=lambda j: -sims[j])
        keep = set(order if top_k is None else order[:top_k])
        largest = max(abs(sims[j]) for j in keep)
        out.append(
            [
                math.copysign((abs(s) / largest) ** power, s) if j in keep else 0.0
                for j, s in enumerate(sims)
            ]
        )
    return np.array(out)


@pytest.mark.parametrize(("top_k", "power"), [(None, 1.0), (3, 1.0), (2, 3.0), (10, 8.0)])
def test_relative_codes_match_loop(top_k: int | None, power: float) -> None:
    rng = np.random.default_rng(0)
    queries, anchors = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    np.testing.assert_allclose(
        relative_codes(queries, anchors, top_k=top_k, power=power),
        _codes_loop(queries, anchors, top_k, power),
        atol=1e-12,
    )


def _orthogonal_data(n_pairs: int, seed: int = 0) -> RegimeData:
    rng = np.random.default_rng(seed)
    n = 400
    a = rng.normal(size=(n, 16))
    b = a @ np.linalg.qr(rng.normal(size=(16, 16)))[0] + 0.05 * rng.normal(size=(n, 16))
    a, b = a.astype(np.float32), b.astype(np.float32)
    return RegimeData.from_arrays(
        {
            "paired_a": a[:n_pairs],
            "paired_b": b[:n_pairs],
            "unpaired_a": a[n_pairs:200],
            "unpaired_b": b[n_pairs:200][::-1].copy(),
            "eval_a": a[200:],
            "eval_b": b[200:],
        }
    )


def test_recovers_an_orthogonal_map_with_enough_anchors() -> None:
    data = _orthogonal_data(60)
    embedder = get_baseline("relrep").fit(data, {"top_k": None, "power": 1.0})
    za, zb = embedder.encode("a", data.eval_a), embedder.encode("b", data.eval_b)
    assert retrieval_metrics(za, zb)["a_to_b_R@1"] > 0.8


@pytest.mark.parametrize("n_pairs", [1, 10, 20])
def test_every_candidate_gives_unit_rows_with_one_column_per_anchor(n_pairs: int) -> None:
    data = _orthogonal_data(n_pairs)
    grid = RelRepBaseline().param_grid()
    assert 1 <= len(grid) <= 8
    for params in grid:
        embedder = RelRepBaseline().fit(data, params)
        za, zb = embedder.encode("a", data.eval_a), embedder.encode("b", data.eval_b)
        assert za.shape == zb.shape == (200, n_pairs) and za.dtype == torch.float32
        for z in (za, zb):
            torch.testing.assert_close(z.norm(dim=1), torch.ones(200), rtol=0, atol=1e-5)


def test_zero_pairs_and_bad_parameters_raise() -> None:
    data = _orthogonal_data(10)
    with pytest.raises(InputError, match="top_k"):
        RelRepBaseline().fit(data, {"top_k": 0})
    with pytest.raises(InputError, match="power"):
        RelRepBaseline().fit(data, {"power": -1.0})
    empty = RegimeData.from_arrays({"unpaired_a": data.unpaired_a, "unpaired_b": data.unpaired_b})
    with pytest.raises(InputError, match="needs pairs"):
        RelRepBaseline().fit(empty, {})
