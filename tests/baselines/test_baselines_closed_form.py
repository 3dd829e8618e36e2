"""Ridge, Procrustes and CCA: recovery of known maps, references, few and zero pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentleclip.baselines import BASELINES, get_baseline
from gentleclip.baselines.base import check_params
from gentleclip.baselines.closed_form import CCABaseline, RidgeBaseline
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.evaluation.retrieval import retrieval_metrics


def make_data(
    n_pairs: int, *, kind: str, n_unpaired: int = 200, n_eval: int = 200, seed: int = 0
) -> RegimeData:
    """Isotropic A (16-d); B = A @ Q (orthogonal) or A @ M (16 -> 12 linear), plus noise."""
    rng = np.random.default_rng(seed)
    n = n_pairs + n_unpaired + n_eval
    a = rng.normal(size=(n, 16))
    if kind == "orthogonal":
        mapping = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    else:
        mapping = rng.normal(size=(16, 12))
    b = a @ mapping + 0.05 * rng.normal(size=(n, mapping.shape[1]))
    cut = [n_pairs, n_pairs + n_unpaired]
    pa, ua, ea = np.split(a.astype(np.float32), cut)
    pb, ub, eb = np.split(b.astype(np.float32), cut)
    unpaired_b = ub[rng.permutation(len(ub))]
    arrays = {"paired_a": pa, "paired_b": pb, "eval_a": ea, "eval_b": eb}
    if n_unpaired:
        arrays |= {"unpaired_a": ua, "unpaired_b": unpaired_b}
    return RegimeData.from_arrays(arrays)


def recall_at_1(embedder, data: RegimeData) -> float:
    za, zb = embedder.encode("a", data.eval_a), embedder.encode("b", data.eval_b)
    return retrieval_metrics(za, zb)["a_to_b_R@1"]


@pytest.mark.parametrize(
    ("name", "kind", "params"),
    [
        ("ridge", "linear", {"alpha": 0.01}),
        ("procrustes", "orthogonal", {"components": 16}),
        ("cca", "linear", {"components": 12, "reg": 0.01}),
    ],
)
def test_recovers_a_known_map(name: str, kind: str, params: dict) -> None:
    data = make_data(100, kind=kind)
    assert recall_at_1(get_baseline(name).fit(data, params), data) > 0.8


@pytest.mark.parametrize("name", ["ridge", "procrustes", "cca"])
@pytest.mark.parametrize("n_pairs", [2, 10, 20])
def test_few_pairs_every_candidate_gives_unit_rows_of_one_width(name: str, n_pairs: int) -> None:
    data = make_data(n_pairs, kind="linear")
    baseline = get_baseline(name)
    grid = baseline.param_grid()
    assert 1 <= len(grid) <= 8
    for params in grid:
        embedder = baseline.fit(data, params, seed=1)
        za, zb = embedder.encode("a", data.eval_a), embedder.encode("b", data.eval_b)
        assert za.dtype == torch.float32 and za.shape[1] == zb.shape[1] >= 1
        for z in (za, zb):
            torch.testing.assert_close(z.norm(dim=1), torch.ones(len(z)), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", BASELINES)
def test_zero_pairs_raise(name: str) -> None:
    data = make_data(0, kind="linear")
    with pytest.raises(InputError, match="needs pairs"):
        get_baseline(name).fit(data, get_baseline(name).param_grid()[0])


def test_unknown_names_and_bad_encode_inputs_raise() -> None:
    with pytest.raises(InputError, match="ridge, procrustes, cca, relrep"):
        get_baseline("pca")
    data = make_data(10, kind="linear")
    with pytest.raises(InputError, match="unknown ridge parameter"):
        RidgeBaseline().fit(data, {"lambda": 1.0})
    embedder = RidgeBaseline().fit(data, {})
    for side, x in [("c", data.eval_a), ("a", data.eval_b), ("b", np.full((2, 12), np.nan))]:
        with pytest.raises(InputError):
            embedder.encode(side, x)


def test_ridge_equals_primal_solution() -> None:
    data = make_data(40, kind="linear")
    embedder = RidgeBaseline().fit(data, {"alpha": 0.3, "components": 5})
    rows_a = np.concatenate([data.paired_a, data.unpaired_a]).astype(np.float64)
    rows_b = np.concatenate([data.paired_b, data.unpaired_b]).astype(np.float64)
    xa = (rows_a - rows_a.mean(0)) / rows_a.std(0)
    xb = (rows_b - rows_b.mean(0)) / rows_b.std(0)
    basis = np.linalg.svd(xb, full_matrices=False)[2][:5].T
    x, y = xa[:40], xb[:40] @ basis
    xc, yc = x - x.mean(0), y - y.mean(0)
    penalty = 0.3 * (xc**2).sum() / 40
    weight = np.linalg.solve(xc.T @ xc + penalty * np.eye(16), xc.T @ yc)
    eval_x = (data.eval_a.astype(np.float64) - rows_a.mean(0)) / rows_a.std(0)
    expected = eval_x @ weight + (y.mean(0) - x.mean(0) @ weight)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = embedder.encode("a", data.eval_a).double().numpy()
    # PCA directions are defined up to sign: compare per-column up to a sign flip
    signs = np.sign((got * expected).sum(0))
    np.testing.assert_allclose(got, expected * signs, atol=1e-5)


def test_cca_first_correlation_matches_qr_reference() -> None:
    data = make_data(200, kind="linear", n_unpaired=0)
    noisy = RegimeData.from_arrays(
        {
            "paired_a": data.paired_a,
            "paired_b": data.paired_b
            + np.random.default_rng(1).normal(size=data.paired_b.shape).astype(np.float32),
        }
    )
    embedder = CCABaseline().fit(noisy, {"components": 3, "reg": 0.0, "pca": None})
    std = embedder.standardizers
    za = std["a"](noisy.paired_a) @ embedder.weights["a"]
    zb = std["b"](noisy.paired_b) @ embedder.weights["b"]
    qa = np.linalg.qr(noisy.paired_a - noisy.paired_a.mean(0))[0]
    qb = np.linalg.qr(noisy.paired_b - noisy.paired_b.mean(0))[0]
    reference = np.linalg.svd(qa.T.astype(np.float64) @ qb, compute_uv=False)[:3]
    got = [np.corrcoef(za[:, k], zb[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(got, reference, rtol=1e-4)


def test_pca_basis_reuses_the_svd_of_identical_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from gentleclip.baselines import base

    monkeypatch.setattr(base, "_SVD_CACHE", type(base._SVD_CACHE)())
    calls = []
    real_svd = np.linalg.svd

    def counting_svd(x: np.ndarray, **kwargs: object) -> tuple:
        calls.append(x.shape)
        return real_svd(x, **kwargs)

    monkeypatch.setattr(base.np.linalg, "svd", counting_svd)
    x = np.random.default_rng(0).normal(size=(40, 12))
    first = base.pca_basis(x, 5)
    again = base.pca_basis(x.copy(), 3)  # same bytes, another array, another k
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first[:, :3])
    fresh = real_svd(x - x.mean(axis=0), full_matrices=False)[2][:5].T
    np.testing.assert_array_equal(first, fresh)
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # cached: read-only, no caller can corrupt it
    base.pca_basis(x + 1e-9, 5)  # different bytes: recomputed
    assert len(calls) == 2
    for i in range(base.SVD_CACHE_SIZE + 1):
        base.pca_basis(x * (i + 2.0), 2)
    assert len(base._SVD_CACHE) == base.SVD_CACHE_SIZE


@pytest.mark.parametrize("name", ["procrustes", "cca"])
def test_wide_rows_take_the_covariance_eigenvectors_and_fit_the_same_maps(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From COVARIANCE_MIN_WIDTH features up (with at least as many rows) the principal
    directions are the covariance's eigenvectors, not the thin SVD's: the same directions up
    to sign, and the same fitted map up to rounding. Below it, with fewer rows than
    features, or where the eigensolver fails, they are the SVD's, bit for bit."""
    from gentleclip.baselines import base

    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 12)) * np.geomspace(10.0, 0.1, 12)  # distinct variances
    centred = x - x.mean(axis=0)
    by_svd = np.linalg.svd(centred, full_matrices=False)[2]
    np.testing.assert_array_equal(base._directions(centred), by_svd)  # 12 < the width
    monkeypatch.setattr(base, "COVARIANCE_MIN_WIDTH", 8)
    by_eigh = base._directions(centred)
    assert by_eigh.shape == by_svd.shape and not np.array_equal(by_eigh, by_svd)
    np.testing.assert_allclose(np.abs(np.sum(by_eigh * by_svd, axis=1)), 1.0, atol=1e-10)
    np.testing.assert_array_equal(
        base._directions(centred[:10]), base.svd(centred[:10], full_matrices=False)[2]
    )
    data = make_data(30, kind="linear")  # 16 features
    fits, directions = {}, {}
    for width in (8, 1024):
        monkeypatch.setattr(base, "COVARIANCE_MIN_WIDTH", width)
        base._SVD_CACHE.clear()
        fitted = get_baseline(name).fit(data, {"components": 12})
        fits[width] = fitted.encode("a", data.eval_a) @ fitted.encode("b", data.eval_b).T
        directions[width] = dict(base._SVD_CACHE)
    base._SVD_CACHE.clear()

    def no_convergence(matrix: np.ndarray) -> tuple:
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(base, "COVARIANCE_MIN_WIDTH", 8)
    monkeypatch.setattr(base.np.linalg, "eigh", no_convergence)  # falls back to the SVD
    np.testing.assert_array_equal(base._directions(centred), by_svd)
    assert directions[8].keys() == directions[1024].keys() and directions[8]
    for key, by_eigh in directions[8].items():  # the two paths ran
        assert not np.array_equal(by_eigh, directions[1024][key])
    torch.testing.assert_close(fits[8], fits[1024], atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["procrustes", "cca"])
def test_an_svd_that_does_not_converge_falls_back_to_gesvd(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy's gesdd can fail on finite rank-deficient matrices (seen on a CCA fold of 40
    pseudo-pairs in 64 PCA dimensions); the fit then takes scipy's gesvd and scores the same
    (singular vectors may flip sign in pairs, so similarities are compared), and where both
    fail it raises InputError, not LinAlgError."""
    from scipy import linalg

    from gentleclip.baselines import base

    data = make_data(30, kind="linear")  # 30 pairs in 16-d: cca's 64 PCA dims clamp to 16
    baseline, params = get_baseline(name), {"components": 12}
    before = baseline.fit(data, params)

    def no_convergence(*args: object, **kwargs: object) -> tuple:
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(base.np.linalg, "svd", no_convergence)
    base._SVD_CACHE.clear()
    after = baseline.fit(data, params)
    for fitted in (before, after):
        assert recall_at_1(fitted, data) == recall_at_1(before, data)
    sims = [f.encode("a", data.eval_a) @ f.encode("b", data.eval_b).T for f in (before, after)]
    torch.testing.assert_close(sims[1], sims[0], atol=1e-5, rtol=0)
    monkeypatch.setattr(linalg, "svd", no_convergence)
    base._SVD_CACHE.clear()
    with pytest.raises(InputError, match="did not converge"):
        baseline.fit(data, params)


BAD_VALUES = {
    "count": [0, -3, 2.5, "8", True, None],
    "count?": [0, 1.5, "all", False],
    "positive": [0, -1.0, float("inf"), float("nan"), "1", None],
    "fraction": [-0.1, 1.5, float("nan"), None],
    "flag": [1, "yes", None],
}


@pytest.mark.parametrize("name", BASELINES)
def test_hyper_parameter_values_are_checked(name: str) -> None:
    """Every grid candidate passes; a value of the wrong kind is refused, naming it (a user
    sets them with ``gentleclip fit --param``)."""
    baseline = get_baseline(name)
    assert set(baseline.kinds) == set(baseline.defaults)
    for candidate in baseline.param_grid():
        assert check_params(candidate, baseline.defaults, name, baseline.kinds)
    data = make_data(12, kind="linear")
    for key, kind in baseline.kinds.items():
        for value in BAD_VALUES[kind]:
            with pytest.raises(InputError, match=f"{name} parameter {key} must be"):
                baseline.fit(data, {key: value})


@pytest.mark.parametrize("name", BASELINES)
def test_scale_false_only_centres_the_features(name: str) -> None:
    """``scale: false``: every side's rows are centred with the mean of all its training rows
    and not divided by their standard deviations; the default divides."""
    if name == "cca-sklearn":
        pytest.importorskip("sklearn")
    data = make_data(30, kind="linear")
    baseline = get_baseline(name)
    assert baseline.defaults["scale"] is True
    assert all("scale" not in candidate for candidate in baseline.param_grid())
    centred = baseline.fit(data, {"scale": False}).standardizers
    scaled = baseline.fit(data, {}).standardizers
    for side, rows in (("a", data.train_arrays_a()), ("b", data.train_arrays_b())):
        np.testing.assert_allclose(centred[side].mean, rows.astype(np.float64).mean(axis=0))
        np.testing.assert_array_equal(centred[side].std, np.ones(rows.shape[1]))
        np.testing.assert_allclose(scaled[side].std, rows.astype(np.float64).std(axis=0))


def test_scale_false_ignores_faint_noise_columns_that_standardising_blows_up() -> None:
    """Rare fingerprint bits in miniature: 64 near-constant noise columns beside A's 16
    informative ones. Standardising gives them unit variance, so ridge on 20 pairs fits the
    noise; centring alone leaves them faint."""
    data = make_data(20, kind="linear")
    rng = np.random.default_rng(1)

    def widened(x: np.ndarray) -> np.ndarray:
        noise = 0.01 * rng.normal(size=(len(x), 64)).astype(np.float32)
        return np.concatenate([x, noise], axis=1)

    arrays = {k: getattr(data, k) for k in ("paired_a", "paired_b", "eval_a", "eval_b")}
    arrays |= {"unpaired_a": data.unpaired_a, "unpaired_b": data.unpaired_b}
    for key in ("paired_a", "unpaired_a", "eval_a"):
        arrays[key] = widened(arrays[key])
    noisy = RegimeData.from_arrays(arrays)
    ridge = RidgeBaseline()
    centred = recall_at_1(ridge.fit(noisy, {"alpha": 0.01, "scale": False}), noisy)
    scaled = recall_at_1(ridge.fit(noisy, {"alpha": 0.01}), noisy)
    assert centred > 0.9 and scaled < centred - 0.3, (centred, scaled)
