"""Our implementations against the libraries the benchmark issue named.

- our closed-form CCA (``cca``) against scikit-learn's ``CCA`` (NIPALS) without shrinkage;
- the ``cca-sklearn`` baseline against scikit-learn's ``transform`` computed by hand;
- our Sinkhorn plans (scaling form and log domain) against POT's ``ot.sinkhorn``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from gentleclip.baselines import get_baseline
from gentleclip.baselines.closed_form import CCABaseline
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.losses.soft_targets import sinkhorn_plan, sinkhorn_plan_log


def linear_pairs(n_pairs: int, *, n_unpaired: int = 100, n_eval: int = 50) -> RegimeData:
    """8-d A; 6-d B = A @ M plus unit noise (canonical correlations well below 1)."""
    rng = np.random.default_rng(0)
    n = n_pairs + n_unpaired + n_eval
    a = rng.normal(size=(n, 8)) * np.linspace(1.0, 3.0, 8)
    b = a @ rng.normal(size=(8, 6)) * 0.3 + rng.normal(size=(n, 6))
    pa, ua, ea = np.split(a.astype(np.float32), [n_pairs, n_pairs + n_unpaired])
    pb, ub, eb = np.split(b.astype(np.float32), [n_pairs, n_pairs + n_unpaired])
    return RegimeData.from_arrays(
        {
            "paired_a": pa,
            "paired_b": pb,
            "unpaired_a": ua,
            "unpaired_b": ub[::-1].copy(),
            "eval_a": ea,
            "eval_b": eb,
        }
    )


def pair_scores(embedder, data: RegimeData) -> tuple[np.ndarray, np.ndarray]:
    """Un-normalised shared-space coordinates of the paired rows."""
    return tuple(
        embedder.standardizers[s](x) @ embedder.weights[s] + embedder.offsets[s]
        for s, x in (("a", data.paired_a), ("b", data.paired_b))
    )


def test_our_cca_equals_sklearn_cca_without_shrinkage() -> None:
    sklearn = pytest.importorskip("sklearn.cross_decomposition")
    data = linear_pairs(400)
    ours = CCABaseline().fit(data, {"components": 3, "reg": 0.0, "pca": None})
    za, zb = pair_scores(ours, data)
    reference = sklearn.CCA(n_components=3, scale=False, max_iter=10_000, tol=1e-14)
    xa, xb = reference.fit_transform(data.paired_a.astype(np.float64), data.paired_b)
    for k in range(3):
        ours_r = np.corrcoef(za[:, k], zb[:, k])[0, 1]
        theirs_r = np.corrcoef(xa[:, k], xb[:, k])[0, 1]
        assert ours_r == pytest.approx(theirs_r, abs=1e-6)
        # the same canonical variates up to sign and scale
        assert abs(np.corrcoef(za[:, k], xa[:, k])[0, 1]) == pytest.approx(1.0, abs=1e-6)
        assert abs(np.corrcoef(zb[:, k], xb[:, k])[0, 1]) == pytest.approx(1.0, abs=1e-6)


def test_cca_sklearn_encodes_as_sklearn_transform() -> None:
    sklearn = pytest.importorskip("sklearn.cross_decomposition")
    data = linear_pairs(60)
    embedder = get_baseline("cca-sklearn").fit(data, {"components": 4, "pca": 5})
    std = embedder.standardizers
    rows = {
        "a": np.concatenate([data.paired_a, data.unpaired_a]).astype(np.float64),
        "b": np.concatenate([data.paired_b, data.unpaired_b]).astype(np.float64),
    }
    bases = {}
    for side, x in rows.items():
        z = std[side](x)
        bases[side] = np.linalg.svd(z - z.mean(0), full_matrices=False)[2][:5].T
    model = sklearn.CCA(n_components=4, scale=False)
    model.fit(std["a"](data.paired_a) @ bases["a"], std["b"](data.paired_b) @ bases["b"])
    expected = model.transform(
        std["a"](data.eval_a) @ bases["a"], std["b"](data.eval_b) @ bases["b"]
    )
    for side, x, want in (("a", data.eval_a, expected[0]), ("b", data.eval_b, expected[1])):
        want = want / np.linalg.norm(want, axis=1, keepdims=True)
        got = embedder.encode(side, x).double().numpy()
        # PCA directions are defined up to sign; the canonical variates follow them
        signs = np.sign((got * want).sum(0))
        np.testing.assert_allclose(got, want * signs, atol=1e-5)


@pytest.mark.parametrize("n_pairs", [2, 3, 10])
def test_cca_sklearn_few_pairs_every_candidate_gives_finite_unit_rows(n_pairs: int) -> None:
    pytest.importorskip("sklearn")
    data = linear_pairs(n_pairs)
    baseline = get_baseline("cca-sklearn")
    for params in baseline.param_grid():
        embedder = baseline.fit(data, params)
        za, zb = embedder.encode("a", data.eval_a), embedder.encode("b", data.eval_b)
        # clamped to the rank the pairs can align and to B's 6 dimensions
        assert za.shape[1] == zb.shape[1] == min(params["components"], n_pairs - 1, 6)
        for z in (za, zb):
            torch.testing.assert_close(z.norm(dim=1), torch.ones(len(z)), rtol=0, atol=1e-5)


def test_cca_sklearn_without_sklearn_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(InputError, match=r"pip install 'gentleclip\[reference\]'"):
        get_baseline("cca-sklearn").fit(linear_pairs(10), {})


def test_cca_sklearn_rejects_unknown_parameters() -> None:
    with pytest.raises(InputError, match="unknown cca-sklearn parameter 'reg'"):
        get_baseline("cca-sklearn").fit(linear_pairs(10), {"reg": 0.1})


def cosine_cost(m: int, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(m, 16, generator=gen, dtype=torch.float64), dim=1)
    v = torch.nn.functional.normalize(torch.randn(n, 16, generator=gen, dtype=torch.float64), dim=1)
    return 1.0 - u @ v.T


@pytest.mark.parametrize(("m", "n", "epsilon"), [(7, 5, 0.1), (32, 64, 0.05), (12, 12, 1.0)])
def test_sinkhorn_plans_equal_pot_at_convergence(m: int, n: int, epsilon: float) -> None:
    ot = pytest.importorskip("ot")
    cost = cosine_cost(m, n, seed=m + n)
    a, b = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
    kwargs = {"numItermax": 20_000, "stopThr": 1e-15}
    want = ot.sinkhorn(a, b, cost.numpy(), epsilon, **kwargs)
    want_log = ot.sinkhorn(a, b, cost.numpy(), epsilon, method="sinkhorn_log", **kwargs)
    for got in (
        sinkhorn_plan(cost, epsilon=epsilon, iterations=5_000),
        sinkhorn_plan_log(cost, epsilon=epsilon, iterations=5_000),
    ):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(got.numpy(), want_log, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("iterations", [1, 10, 50])
def test_sinkhorn_iterates_equal_pot_on_the_transposed_problem(iterations: int) -> None:
    """At any iteration count, not only at convergence.

    POT updates the column scaling first (from a constant row scaling) and ends on the rows;
    ours updates the rows first (from constant columns) and ends on the columns. Constant
    factors cancel in the plan, so our iterates on ``C`` are POT's on ``C^T``, transposed.
    S-CLIP's own code calls POT with 10 iterations; our recipe runs 50.
    """
    ot = pytest.importorskip("ot")
    m, n, epsilon = 24, 40, 0.1
    cost = cosine_cost(m, n, seed=iterations)
    a, b = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
    pot = ot.sinkhorn(b, a, cost.numpy().T, epsilon, numItermax=iterations, stopThr=0.0, warn=False)
    for got in (
        sinkhorn_plan(cost, epsilon=epsilon, iterations=iterations),
        sinkhorn_plan_log(cost, epsilon=epsilon, iterations=iterations),
    ):
        np.testing.assert_allclose(got.numpy(), pot.T, rtol=1e-9, atol=0)
