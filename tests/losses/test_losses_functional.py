"""Functional losses against loop-by-loop references written from the formulas (float64)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.losses import functional as LF

# --------------------------------------------------------------------------------------------
# plain-Python references (scalar torch ops in loops, so autograd gives reference gradients)
# --------------------------------------------------------------------------------------------


def _sqd(x: Tensor, y: Tensor) -> Tensor:
    return sum((x[k] - y[k]) ** 2 for k in range(len(x)))


def _total_var(s: Tensor) -> Tensor:
    n, d = s.shape
    total = 0.0
    for k in range(d):
        mean = sum(s[i, k] for i in range(n)) / n
        total = total + sum((s[i, k] - mean) ** 2 for i in range(n)) / (n - 1)
    return total


def _range(s: Tensor) -> Tensor:
    n, d = s.shape
    total = 0.0
    for k in range(d):
        col = [s[i, k] for i in range(n)]
        total = total + (max(col) - min(col)) ** 2
    return total


def _rho(x: Tensor, s: Tensor, s_s: Tensor, h: float, skip: int | None) -> Tensor:
    terms = [torch.exp(-_sqd(x, s[t]) / (4 * h * h * s_s)) for t in range(len(s)) if t != skip]
    return sum(terms) / len(terms)


def _normalised(values: list[Tensor], normalize: bool) -> list[Tensor]:
    if not normalize:
        return values
    total = sum(values)
    return [v / total for v in values]


def ref_sdd(a: Tensor, b: Tensor, h: float, loo: bool, spread: str, normalize: bool) -> Tensor:
    s_a, s_b = _total_var(a), _total_var(b)
    p = [_rho(a[i], a, s_a, h, i if loo else None) for i in range(len(a))]
    q = [_rho(a[i], b, s_b, h, None) for i in range(len(a))]
    u = [_rho(b[j], b, s_b, h, j if loo else None) for j in range(len(b))]
    v = [_rho(b[j], a, s_a, h, None) for j in range(len(b))]
    p, q, u, v = (_normalised(x, normalize) for x in (p, q, u, v))
    div = sum((pi - qi) * (torch.log(pi) - torch.log(qi)) for pi, qi in zip(p, q, strict=True))
    div = div + sum(
        (ui - vi) * (torch.log(ui) - torch.log(vi)) for ui, vi in zip(u, v, strict=True)
    )
    if spread == "none":
        return div
    r_a, r_b = (_range(a), _range(b)) if spread == "range" else (s_a, s_b)
    return div * (1 / r_a + 1 / r_b)


def ref_mmd(a: Tensor, b: Tensor, bandwidths: list[float] | None, unbiased: bool) -> Tensor:
    pooled = [*a, *b]
    if bandwidths is None:
        off = sorted(
            float(_sqd(x, y).detach())
            for i, x in enumerate(pooled)
            for j, y in enumerate(pooled)
            if i != j
        )
        median = off[(len(off) - 1) // 2]  # lower median
        scales = [t * median for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    else:
        scales = bandwidths

    def k(x: Tensor, y: Tensor) -> Tensor:
        return sum(torch.exp(-_sqd(x, y) / s) for s in scales) / len(scales)

    def mean_k(xs: Tensor, ys: Tensor, same: bool) -> Tensor:
        vals = [
            k(x, y) for i, x in enumerate(xs) for j, y in enumerate(ys) if not (same and i == j)
        ]
        return sum(vals) / len(vals)

    return mean_k(a, a, unbiased) + mean_k(b, b, unbiased) - 2 * mean_k(a, b, False)


def _ce(logits: list[Tensor], target: int) -> Tensor:
    return -logits[target] + torch.log(sum(torch.exp(x) for x in logits))


def ref_clip(a: Tensor, b: Tensor, scale: Tensor | float, ea: Tensor | None, eb: Tensor | None):
    cols_b = [*b, *(eb if eb is not None else [])]
    cols_a = [*a, *(ea if ea is not None else [])]
    p = len(a)
    loss_ab = sum(_ce([scale * (a[i] @ c) for c in cols_b], i) for i in range(p)) / p
    loss_ba = sum(_ce([scale * (b[i] @ c) for c in cols_a], i) for i in range(p)) / p
    return (loss_ab + loss_ba) / 2


def ref_ntxent(z1: Tensor, z2: Tensor, t: float) -> Tensor:
    rows = [*z1, *z2]
    rows = [r / torch.sqrt(sum(x * x for x in r)) for r in rows]
    n2, n = len(rows), len(z1)
    total = 0.0
    for i in range(n2):
        pos = (i + n) % n2
        others = [k for k in range(n2) if k != i]
        logits = [(rows[i] @ rows[k]) / t for k in others]
        total = total + _ce(logits, others.index(pos))
    return total / n2


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _inputs(*shapes: tuple[int, int], seed: int = 0, shift: float = 0.7) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for idx, shape in enumerate(shapes):
        x = torch.randn(*shape, generator=gen, dtype=torch.float64) + idx * shift
        out.append(x.requires_grad_(True))
    return out


def _unit(*shapes: tuple[int, int], seed: int = 0) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for shape in shapes:
        x = torch.nn.functional.normalize(torch.randn(*shape, generator=gen, dtype=torch.float64))
        out.append(x.requires_grad_(True))
    return out


def _assert_value_and_grad(got: Tensor, want: Tensor, inputs: list[Tensor]) -> None:
    torch.testing.assert_close(got, want.reshape(()), rtol=1e-9, atol=1e-12)
    g_got = torch.autograd.grad(got, inputs)
    g_want = torch.autograd.grad(want, inputs)
    for x, y in zip(g_got, g_want, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-11)


def ref_neighbourhood(x: Tensor, z: Tensor, temperature: float, bandwidth: float) -> Tensor:
    """Loop form of the docstring formula (the median from a sorted list of distinct pairs)."""
    n = x.shape[0]
    d = [[float(_sqd(x[i].detach(), x[j].detach())) for j in range(n)] for i in range(n)]
    distinct = sorted(d[i][j] for i in range(n) for j in range(i + 1, n))
    scale = bandwidth * distinct[(len(distinct) - 1) // 2]
    total = 0.0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        p_norm = sum(math.exp(-d[i][k] / scale) for k in others)
        q_terms = {k: torch.exp(sum(z[i, c] * z[k, c] for c in range(z.shape[1])) / temperature)
                   for k in others}  # fmt: skip
        q_norm = sum(q_terms.values())
        for j in others:
            p = math.exp(-d[i][j] / scale) / p_norm
            total = total + p * (math.log(p) - torch.log(q_terms[j] / q_norm))
    return total / n


# --------------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loo", "normalize", "spread"),
    list(itertools.product([False, True], [False, True], ["range", "variance", "none"])),
)
def test_sdd_matches_reference(loo: bool, normalize: bool, spread: str) -> None:
    a, b = _inputs((6, 3), (5, 3), seed=1)
    got = LF.sdd_loss(a, b, bandwidth=0.7, leave_one_out=loo, spread=spread, normalize=normalize)
    _assert_value_and_grad(got, ref_sdd(a, b, 0.7, loo, spread, normalize), [a, b])


@pytest.mark.parametrize("stacked", [True, False], ids=["stacked-kernels", "looped-kernels"])
@pytest.mark.parametrize(
    ("bandwidths", "unbiased"),
    [(None, False), (None, True), ([0.5, 2.0, 7.0], False), ([0.5, 2.0, 7.0], True)],
)
def test_mmd_matches_reference(
    bandwidths: list[float] | None, unbiased: bool, stacked: bool, monkeypatch
) -> None:
    """Both kernel-sum paths (all scales stacked for small inputs, a loop over the scales
    with squaring chains above LF.STACKED_KERNEL_ENTRIES) against the loop reference."""
    if not stacked:
        monkeypatch.setattr(LF, "STACKED_KERNEL_ENTRIES", 0)
    a, b = _inputs((5, 4), (7, 4), seed=2)
    got = LF.mk_mmd(a, b, bandwidths=bandwidths, unbiased=unbiased)
    _assert_value_and_grad(got, ref_mmd(a, b, bandwidths, unbiased), [a, b])


def test_mmd_median_even_count_uses_lower_median() -> None:
    # pooled 3 points on a line: distinct pair distances 1, 4, 9 -> off-diagonal count 6,
    # lower median = 4; with multiplier 1 only: k = exp(-d / 4).
    a = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    b = torch.tensor([[3.0]], dtype=torch.float64)
    got = LF.mk_mmd(a, b, multipliers=(1.0,))
    k = [[math.exp(-(abs(x - y) ** 2) / 4.0) for y in (0.0, 1.0)] for x in (0.0, 1.0)]
    k_aa = sum(map(sum, k)) / 4
    k_ab = (math.exp(-9 / 4) + math.exp(-4 / 4)) / 2
    assert got.item() == pytest.approx(k_aa + 1.0 - 2 * k_ab, rel=1e-12)


@pytest.mark.parametrize(
    ("extra_a", "extra_b", "learned"),
    [(0, 0, False), (3, 0, False), (0, 2, False), (3, 2, True)],
)
def test_clip_matches_reference(extra_a: int, extra_b: int, learned: bool) -> None:
    a, b, ea, eb = _unit((5, 4), (5, 4), (max(extra_a, 1), 4), (max(extra_b, 1), 4), seed=3)
    ea_in = ea if extra_a else None
    eb_in = eb if extra_b else None
    scale = torch.tensor(7.5, dtype=torch.float64, requires_grad=True)
    kwargs = {"logit_scale": scale} if learned else {"temperature": 0.2}
    got = LF.clip_loss(a, b, extra_a=ea_in, extra_b=eb_in, **kwargs)
    want = ref_clip(a, b, scale if learned else 5.0, ea_in, eb_in)
    inputs = [a, b] + [x for x in (ea_in, eb_in) if x is not None] + ([scale] if learned else [])
    _assert_value_and_grad(got, want, inputs)


@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_ntxent_matches_reference(temperature: float) -> None:
    z1, z2 = _inputs((4, 3), (4, 3), seed=4, shift=0.0)
    got = LF.ntxent_loss(z1, z2, temperature=temperature)
    _assert_value_and_grad(got, ref_ntxent(z1, z2, temperature), [z1, z2])


def test_pairwise_sq_dists_matches_loops_and_zero_diagonal() -> None:
    x, y = _inputs((4, 3), (5, 3), seed=5)
    d = LF.pairwise_sq_dists(x, y)
    want = torch.stack([torch.stack([_sqd(xi, yj) for yj in y]) for xi in x])
    torch.testing.assert_close(d, want, rtol=1e-10, atol=1e-12)
    d_self = LF.pairwise_sq_dists(x, x)
    assert torch.equal(d_self.diagonal(), torch.zeros(4, dtype=torch.float64))
    assert bool((d_self >= 0).all())


def test_sdd_and_mmd_share_and_match_single_terms() -> None:
    a, b = _inputs((6, 3), (5, 3), seed=6)
    sdd_kw = {"bandwidth": 0.3, "leave_one_out": True, "spread": "variance"}
    mmd_kw = {"unbiased": True, "multipliers": (1.0, 3.0)}
    both = LF.sdd_and_mmd(a, b, sdd=sdd_kw, mmd=mmd_kw)
    assert set(both) == {"sdd", "mmd"}
    torch.testing.assert_close(both["sdd"], LF.sdd_loss(a, b, **sdd_kw), rtol=0, atol=0)
    torch.testing.assert_close(both["mmd"], LF.mk_mmd(a, b, **mmd_kw), rtol=0, atol=0)
    assert set(LF.sdd_and_mmd(a, b, mmd={})) == {"mmd"}
    assert set(LF.sdd_and_mmd(a, b, sdd={})) == {"sdd"}


# --------------------------------------------------------------------------------------------
# closed forms and properties
# --------------------------------------------------------------------------------------------


def test_sdd_identical_and_permuted_sets_is_zero() -> None:
    (a,) = _inputs((7, 4), seed=7)
    assert abs(LF.sdd_loss(a, a).item()) < 1e-15
    perm = a[torch.randperm(7, generator=torch.Generator().manual_seed(0))]
    assert abs(LF.sdd_loss(a, perm, normalize=True).item()) < 1e-12


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("normalize", [False, True])
def test_sdd_is_non_negative(seed: int, normalize: bool) -> None:
    a, b = _inputs((6, 3), (8, 3), seed=seed, shift=0.2)
    assert LF.sdd_loss(a, b, normalize=normalize, leave_one_out=True).item() >= 0.0


def test_sdd_and_mmd_grow_with_separation() -> None:
    a, b = _inputs((30, 3), (30, 3), seed=8, shift=0.0)
    near = LF.sdd_and_mmd(a, b, sdd={"spread": "none"}, mmd={"bandwidths": [1.0, 4.0]})
    far = LF.sdd_and_mmd(a, b + 20.0, sdd={"spread": "none"}, mmd={"bandwidths": [1.0, 4.0]})
    assert far["sdd"].item() > 50 * near["sdd"].item()
    assert far["mmd"].item() > 5 * near["mmd"].item()


def test_sdd_stable_when_densities_underflow() -> None:
    a, b = _inputs((5, 3), (5, 3), seed=9, shift=0.0)
    b_far = (b + 1e4).detach().requires_grad_(True)
    loss = LF.sdd_loss(a, b_far, bandwidth=0.05, spread="none")
    assert math.isfinite(loss.item()) and loss.item() > 1e6
    grads = torch.autograd.grad(loss, [a, b_far])
    assert all(bool(torch.isfinite(g).all()) for g in grads)


def test_mmd_identical_sets_is_zero_and_two_points_closed_form() -> None:
    (a,) = _inputs((6, 3), seed=10)
    assert abs(LF.mk_mmd(a, a).item()) < 1e-15  # zero up to float64 rounding
    x = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 2.0]], dtype=torch.float64)  # squared distance 5
    fixed = LF.mk_mmd(x, y, bandwidths=[2.0, 10.0])
    assert fixed.item() == pytest.approx(2 - (math.exp(-2.5) + math.exp(-0.5)), rel=1e-12)
    mults = (0.5, 1.0, 2.0)
    median = LF.mk_mmd(x, y, multipliers=mults)  # median = 5, so s = t * 5
    want = 2 - 2 * sum(math.exp(-1 / t) for t in mults) / 3
    assert median.item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(("p", "scale", "extra"), [(2, 1.0, 0), (4, 3.0, 0), (3, 5.0, 2)])
def test_clip_orthogonal_matches_closed_form(p: int, scale: float, extra: int) -> None:
    eye = torch.eye(p + extra, dtype=torch.float64)
    a = b = eye[:p]
    neg = eye[p:] if extra else None
    got = LF.clip_loss(a, b, logit_scale=torch.tensor(scale), extra_a=neg, extra_b=neg)
    want = math.log(1 + (p - 1 + extra) * math.exp(-scale))
    assert got.item() == pytest.approx(want, rel=1e-12)
    by_temp = LF.clip_loss(a, b, temperature=1 / scale, extra_a=neg, extra_b=neg)
    assert by_temp.item() == pytest.approx(want, rel=1e-12)


def test_ntxent_orthogonal_closed_form() -> None:
    n, t = 3, 0.5
    z = 2.5 * torch.eye(n, dtype=torch.float64)  # rescaled: normalisation happens inside
    want = math.log(1 + (2 * n - 2) * math.exp(-1 / t))
    assert LF.ntxent_loss(z, z, temperature=t).item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("kind", ["uniform", "ties", "sorted", "stride_aligned"])
@pytest.mark.parametrize("quantile", [0.0, 0.5, 0.7, 1.0])
def test_fast_kth_smallest_equals_sorting(kind: str, quantile: float) -> None:
    n = (1 << 21) + 3
    gen = torch.Generator().manual_seed(11)
    if kind == "uniform":
        values = torch.rand(n, generator=gen)
    elif kind == "ties":
        values = torch.randint(0, 3, (n,), generator=gen).float()
    elif kind == "sorted":
        values = torch.linspace(0.0, 5.0, n)
    else:  # the strided sample sees only zeros, so the bracket misses: full-search fallback
        values = torch.ones(n)
        values[:: n // 65536] = 0.0
    k = int(quantile * (n - 1))
    assert LF._kth_smallest(values, k) == float(values.sort().values[k])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["uniform", "ties"])
def test_small_kth_smallest_equals_kthvalue(dtype: torch.dtype, kind: str) -> None:
    gen = torch.Generator().manual_seed(5)
    n = 10_816  # a 104-row pooled distance matrix, flattened
    values = torch.rand(n, generator=gen) if kind == "uniform" else torch.randint(0, 4, (n,))
    values = values.to(dtype)
    for k in (0, 1, n // 2, n - 2, n - 1):
        want = float(values.kthvalue(k + 1).values)
        assert LF._kth_smallest(values, k) == want == float(values.sort().values[k])


def test_half_precision_inputs_are_computed_in_float32() -> None:
    a, b = _inputs((6, 3), (5, 3), seed=12)
    want = LF.sdd_and_mmd(a.float(), b.float(), sdd={}, mmd={})
    a16 = a.detach().bfloat16().requires_grad_(True)
    b16 = b.detach().bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = LF.sdd_and_mmd(a16, b16, sdd={}, mmd={})
    ref = LF.sdd_and_mmd(a16.detach().float(), b16.detach().float(), sdd={}, mmd={})
    for key in ("sdd", "mmd"):
        assert got[key].dtype == torch.float32
        torch.testing.assert_close(got[key], ref[key], rtol=1e-6, atol=1e-7)
        assert abs(got[key].item() - want[key].item()) < 0.05 * abs(want[key].item()) + 1e-3
    (g,) = torch.autograd.grad(got["sdd"] + got["mmd"], [a16])
    assert g.dtype == torch.bfloat16 and bool(torch.isfinite(g).all())


@pytest.mark.parametrize(("n", "m"), [(3, 2), (40, 25), (620, 600)])
def test_median_heuristic_is_lower_median_of_pooled_off_diagonal(n: int, m: int) -> None:
    gen = torch.Generator().manual_seed(13)
    a = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(m, 3, generator=gen, dtype=torch.float64) + 0.5
    pooled = torch.cat([a, b])
    d = torch.cdist(pooled, pooled).pow(2)
    off = d[~torch.eye(n + m, dtype=torch.bool)]
    got = LF._median_sq_dist(LF.pairwise_sq_dists(torch.cat([a, b]), torch.cat([a, b])))
    assert got == pytest.approx(float(off.median()), rel=1e-9)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_all_finite_agrees_with_isfinite_all(dtype: torch.dtype, bad: float | None) -> None:
    x = (torch.randn(7, 5, dtype=torch.float64) * 1e4).to(dtype)
    x[0, 0] = torch.finfo(dtype).max  # the largest finite value is still finite
    if bad is not None:
        x[3, 2] = bad
    assert LF.all_finite(x) is bool(torch.isfinite(x).all()) is (bad is None)
    assert LF.all_finite(x[:0]) is True


def test_finite_scans_skipped_only_inside_the_context() -> None:
    bad = torch.tensor([[1.0, math.nan]])
    with LF.finite_scans_skipped():
        assert LF.all_finite(bad) is True
        # no InputError: the NaN reaches the loss, which the training loop checks
        assert math.isnan(float(LF.mk_mmd(bad, torch.ones(1, 2), bandwidths=(1.0,))))
    assert LF.all_finite(bad) is False
    with pytest.raises(RuntimeError), LF.finite_scans_skipped():
        raise RuntimeError("the context is left by an exception")
    assert LF.all_finite(bad) is False
    with pytest.raises(InputError, match="NaN"):
        LF.mk_mmd(bad, torch.ones(1, 2))


@pytest.mark.parametrize(("n", "temperature", "bandwidth"), [(5, 0.1, 0.05), (7, 0.5, 1.0)])
def test_neighbourhood_matches_reference(n: int, temperature: float, bandwidth: float) -> None:
    x, z = _inputs((n, 4), (n, 3), seed=n)
    got = LF.neighbourhood_loss(x, z, temperature=temperature, bandwidth=bandwidth)
    _assert_value_and_grad(got, ref_neighbourhood(x, z, temperature, bandwidth), [z])
    assert torch.autograd.grad(got, x, allow_unused=True)[0] is None  # the target is fixed


def test_neighbourhood_closed_forms() -> None:
    # two rows: each has one neighbour in both spaces, so P = Q = 1 and the loss is 0
    x, z = _inputs((2, 3), (2, 5), seed=3)
    assert LF.neighbourhood_loss(x, z).item() == 0.0
    # an equilateral triangle in both spaces: uniform P and Q, loss 0 (to rounding)
    tri = torch.tensor([[1.0, 0.0], [-0.5, 3**0.5 / 2], [-0.5, -(3**0.5) / 2]], dtype=torch.float64)
    assert abs(LF.neighbourhood_loss(5.0 * tri, tri).item()) < 1e-15
    # three collinear inputs: the middle row is everyone's nearest neighbour; an embedding that
    # keeps that order pays less than one that swaps it
    line = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    angles = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    keep = torch.stack([angles.cos(), angles.sin()], dim=1)
    swap = keep[[1, 0, 2]]
    assert LF.neighbourhood_loss(line, keep).item() < LF.neighbourhood_loss(line, swap).item()


def test_neighbourhood_rejects_bad_inputs() -> None:
    x, z = _inputs((4, 3), (4, 2), seed=1)
    with pytest.raises(InputError, match="same rows"):
        LF.neighbourhood_loss(x, z[:3])
    with pytest.raises(InputError, match="at least 2"):
        LF.neighbourhood_loss(x[:1], z[:1])
    with pytest.raises(InputError, match="temperature"):
        LF.neighbourhood_loss(x, z, temperature=0.0)
    with pytest.raises(InputError, match="bandwidth"):
        LF.neighbourhood_loss(x, z, bandwidth=-1.0)
    bad = x.detach().clone()
    bad[0, 0] = math.nan
    with pytest.raises(InputError, match="NaN"):
        LF.neighbourhood_loss(bad, z)
