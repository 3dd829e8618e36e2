"""Functional forms of the Gentle-CLIP loss terms (arXiv 2406.05766).

All functions take plain tensors, validate them (raising :class:`~gentleclip.errors.InputError`
with a one-line message) and return a 0-d tensor that is differentiable with respect to every
input, except the median heuristic of :func:`mk_mmd` and the target (input-space) side of
:func:`neighbourhood_loss`, which are detached.

* :func:`sdd_loss` -- semantic density distribution (SDD) divergence between two sets.
* :func:`mk_mmd` -- multi-kernel maximum mean discrepancy (squared).
* :func:`clip_loss` -- symmetric InfoNCE on matched pairs, optionally with extra negatives.
* :func:`ntxent_loss` -- SimCLR NT-Xent between two views.
* :func:`neighbourhood_loss` -- KL between a set's input-space and embedding neighbourhoods.
* :func:`sdd_and_mmd` -- SDD and MK-MMD sharing one pooled distance matrix.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from gentleclip.errors import InputError

__all__ = [
    "SPREADS",
    "all_finite",
    "bag_clip_loss",
    "bag_mean_embeddings",
    "clip_loss",
    "common_bag_ids",
    "finite_scans_skipped",
    "mk_mmd",
    "neighbourhood_loss",
    "ntxent_loss",
    "pairwise_sq_dists",
    "sdd_and_mmd",
    "sdd_loss",
]

SPREADS: tuple[str, ...] = ("range", "variance", "none")
"""Accepted values of the ``spread`` option of :func:`sdd_loss`."""

DEFAULT_MULTIPLIERS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


_SKIP_FINITE_SCANS: ContextVar[bool] = ContextVar("gentleclip_skip_finite_scans", default=False)


@contextlib.contextmanager
def finite_scans_skipped() -> Iterator[None]:
    """Inside, :func:`all_finite` answers True without scanning (shape and dtype checks still
    run).

    For a training step whose features were validated once when the data was built and whose
    loss is checked for NaN/inf after every step: a non-finite embedding makes that loss
    non-finite, so the per-input scans only repeat the check. Measured alone, they were 5-9%
    of a small gentle step (proteins, 70 rows; interleaved A/B on one thread, noisy).
    """
    token = _SKIP_FINITE_SCANS.set(True)
    try:
        yield
    finally:
        _SKIP_FINITE_SCANS.reset(token)


def all_finite(x: Tensor) -> bool:
    """True when no entry of ``x`` (a floating tensor) is NaN or infinite (or, inside
    :func:`finite_scans_skipped`, always).

    Computed as ``max |x| < inf`` (``amax`` propagates NaN): the same answer as
    ``torch.isfinite(x).all()`` in two passes instead of four.
    """
    if x.numel() == 0 or _SKIP_FINITE_SCANS.get():
        return True
    return bool(x.detach().abs().amax() < math.inf)


def _check_matrix(x: Any, name: str, *, min_rows: int = 1) -> None:
    """Raise InputError unless ``x`` is a finite 2-D floating tensor with >= ``min_rows`` rows."""
    if not isinstance(x, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise InputError(f"{name} must be 2-D (rows, dim), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[0] < min_rows:
        what = "is empty" if x.shape[0] == 0 else f"has {x.shape[0]} row(s)"
        raise InputError(f"{name} {what}; at least {min_rows} row(s) are required")
    if not all_finite(x):
        raise InputError(f"{name} contains NaN or infinite values")


def _check_same_dim(x: Tensor, y: Tensor, names: str) -> None:
    """Raise InputError unless the two matrices have the same number of columns."""
    if x.shape[1] != y.shape[1] or x.dtype != y.dtype or x.device != y.device:
        raise InputError(
            f"{names} must share dim, dtype and device, got {tuple(x.shape)} {x.dtype} "
            f"{x.device} vs {tuple(y.shape)} {y.dtype} {y.device}"
        )


def _check_same_shape(x: Tensor, y: Tensor, names: str) -> None:
    """Raise InputError unless the two matrices have the same shape (and dtype, device)."""
    if x.shape != y.shape:
        shapes = f"{tuple(x.shape)} vs {tuple(y.shape)}"
        raise InputError(f"{names} must have the same shape, got {shapes}")
    _check_same_dim(x, y, names)


def _check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float, raising InputError unless it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_positive_seq(values: Any, name: str) -> tuple[float, ...]:
    """Return a non-empty tuple of positive floats, raising InputError otherwise."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InputError(f"{name} must be a sequence of positive numbers, got {values!r}")
    if len(values) == 0:
        raise InputError(f"{name} must not be empty")
    return tuple(_check_positive(v, f"{name} entry") for v in values)


def _check_spread(spread: Any) -> str:
    """Return ``spread`` if it is a known option, raising InputError otherwise."""
    if spread not in SPREADS:
        raise InputError(f"unknown spread {spread!r}; expected one of {', '.join(SPREADS)}")
    return str(spread)


def validate_sdd_options(
    *, bandwidth: Any, leave_one_out: Any, spread: Any, normalize: Any
) -> dict[str, Any]:
    """Validate the keyword options of :func:`sdd_loss`; return them normalised."""
    return {
        "bandwidth": _check_positive(bandwidth, "bandwidth"),
        "leave_one_out": bool(leave_one_out),
        "spread": _check_spread(spread),
        "normalize": bool(normalize),
    }


def validate_mmd_options(*, bandwidths: Any, multipliers: Any, unbiased: Any) -> dict[str, Any]:
    """Validate the keyword options of :func:`mk_mmd`; return them normalised."""
    return {
        "bandwidths": None if bandwidths is None else _check_positive_seq(bandwidths, "bandwidths"),
        "multipliers": _check_positive_seq(multipliers, "multipliers"),
        "unbiased": bool(unbiased),
    }


# --------------------------------------------------------------------------------------------
# distances
# --------------------------------------------------------------------------------------------


class _SqDists(torch.autograd.Function):
    """``||x_i - y_j||^2`` with a hand-written backward (saves only x and y, not the matrix).

    The backward is the derivative of the exact function, ``2 (x_i - y_j)``, also for the
    entries that rounding pushed below 0 and were clamped.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor) -> Tensor:
        ctx.save_for_backward(x, y)
        d = torch.addmm((y * y).sum(dim=1)[None, :], x, y.T, alpha=-2.0)
        return d.add_((x * x).sum(dim=1)[:, None]).clamp_min_(0.0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        x, y = ctx.saved_tensors
        grad_x = torch.addmm(grad.sum(dim=1)[:, None] * x, grad, y, beta=2.0, alpha=-2.0)
        grad_y = torch.addmm(grad.sum(dim=0)[:, None] * y, grad.T, x, beta=2.0, alpha=-2.0)
        return grad_x, grad_y


class _SelfSqDists(torch.autograd.Function):
    """``||x_i - x_j||^2`` with an exactly zero diagonal and a hand-written backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        x_sq = (x * x).sum(dim=1)
        d = torch.addmm(x_sq[None, :], x, x.T, alpha=-2.0)
        d = d.add_(x_sq[:, None]).clamp_min_(0.0)
        d.diagonal().zero_()
        return d

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        sym = grad + grad.T
        return torch.addmm(sym.sum(dim=1)[:, None] * x, sym, x, beta=2.0, alpha=-2.0)


def pairwise_sq_dists(x: Tensor, y: Tensor) -> Tensor:
    """Squared Euclidean distances ``D[i, j] = ||x_i - y_j||^2`` of shape (len(x), len(y)).

    Computed as ``|x|^2 + |y|^2 - 2 x y^T`` and clamped at 0. When ``y is x`` the diagonal is
    exactly zero. The gradient is that of the exact distance, ``2 (x_i - y_j)`` per entry.
    """
    if y is x:
        return _SelfSqDists.apply(x)
    return _SqDists.apply(x, y)


# --------------------------------------------------------------------------------------------
# SDD
# --------------------------------------------------------------------------------------------


def _total_variance(x: Tensor, name: str) -> Tensor:
    """``sum_k var(x[:, k])`` with the unbiased (n - 1) estimator; must be > 0 (NaN passes, to
    make the loss NaN, which a training step reports as a non-finite loss)."""
    s = (x - x.mean(dim=0)).pow(2).sum() / (x.shape[0] - 1)
    if bool(s <= 0):
        raise InputError(f"{name} has zero variance (all rows identical); SDD is undefined")
    return s


class _RowLogSumExp(torch.autograd.Function):
    """``log sum_j exp(coef * d_ij)`` per row, optionally without the entries ``(i, i + skip)``.

    Works in place on one buffer, which ends up holding ``exp(logits - max)`` for the
    backward (divided there by the saved row sums); the gradient reaches both ``d`` and the
    scalar ``coef``. ``skip`` is a diagonal offset (``torch.diagonal`` convention).
    """

    @staticmethod
    def forward(ctx: Any, d: Tensor, coef: Tensor, skip: int | None) -> Tensor:
        weights = d * coef
        if skip is not None:
            weights.diagonal(skip).fill_(-math.inf)
        peak = weights.amax(dim=1, keepdim=True)
        weights.sub_(peak).exp_()
        total = weights.sum(dim=1, keepdim=True)
        ctx.save_for_backward(d, coef, weights, total)
        return (total.log() + peak).squeeze(1)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        d, coef, weights, total = ctx.saved_tensors
        grad_logits = weights * (grad.unsqueeze(1) / total)
        grad_coef = torch.dot(grad_logits.reshape(-1), d.reshape(-1))
        return grad_logits.mul_(coef), grad_coef.reshape(coef.shape), None


def _divergence(log_p: Tensor, log_q: Tensor, normalize: bool) -> Tensor:
    """``sum_i (p_i - q_i)(log p_i - log q_i)`` from log-densities (symmetric KL, J-divergence)."""
    if normalize:
        log_p, log_q = _log_normalized(log_p), _log_normalized(log_q)
    return ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum()


def _spread_value(x: Tensor, spread: str, variance: Tensor) -> Tensor:
    """The scale ``r_S`` of a set: squared per-column range summed, or the total variance."""
    if spread == "variance":
        return variance
    return (x.amax(dim=0) - x.amin(dim=0)).pow(2).sum()


def _sdd_from_pooled(
    a: Tensor,
    b: Tensor,
    d: Tensor,
    *,
    bandwidth: float,
    leave_one_out: bool,
    spread: str,
    normalize: bool,
) -> Tensor:
    """SDD loss from the pooled ``(n + m, n + m)`` squared distances of ``[a; b]``.

    Two row-wise log-mean-exps over the pooled matrix give every density at once: against
    the A columns, ``log p`` (A rows) and ``log v`` (B rows); against the B columns, ``log q``
    and ``log u``. See :func:`sdd_loss` for the math.
    """
    n, m = a.shape[0], b.shape[0]
    s_a = _total_variance(a, "a")
    s_b = _total_variance(b, "b")
    coef_a = -1.0 / (4.0 * bandwidth * bandwidth * s_a)  # exponent factor for reference A
    coef_b = -1.0 / (4.0 * bandwidth * bandwidth * s_b)
    skip = 0 if leave_one_out else None  # a row's own term: (i, i) in A columns, (n + j, j) in B
    own = 1 if leave_one_out else 0
    counts_a = [math.log(n - own)] * n + [math.log(n)] * m
    counts_b = [math.log(m)] * n + [math.log(m - own)] * m
    log_ref_a = _RowLogSumExp.apply(d[:, :n], coef_a, skip) - d.new_tensor(counts_a)
    log_ref_b = _RowLogSumExp.apply(d[:, n:], coef_b, None if skip is None else -n)
    log_ref_b = log_ref_b - d.new_tensor(counts_b)
    if normalize:  # each of p, q, u, v divided by its own sum
        log_ref_a = torch.cat([_log_normalized(log_ref_a[:n]), _log_normalized(log_ref_a[n:])])
        log_ref_b = torch.cat([_log_normalized(log_ref_b[:n]), _log_normalized(log_ref_b[n:])])
    # rows of A: (p - q)(log p - log q); rows of B: (v - u)(log v - log u), the same product
    div = _divergence(log_ref_a, log_ref_b, normalize=False)  # normalised per block above
    return _scaled_by_spread(div, a, b, s_a, s_b, spread)


def _log_normalized(log_x: Tensor) -> Tensor:
    """``log(x / sum(x))`` from ``log x``."""
    return log_x - torch.logsumexp(log_x, dim=0)


def _scaled_by_spread(
    div: Tensor, a: Tensor, b: Tensor, s_a: Tensor, s_b: Tensor, spread: str
) -> Tensor:
    """``div * (1 / r_A + 1 / r_B)``, or ``div`` itself for ``spread="none"``."""
    if spread == "none":
        return div
    return div * (1.0 / _spread_value(a, spread, s_a) + 1.0 / _spread_value(b, spread, s_b))


def _sdd_from_log_densities(
    a: Tensor,
    b: Tensor,
    s_a: Tensor,
    s_b: Tensor,
    log_densities: tuple[Tensor, Tensor, Tensor, Tensor],
    spread: str,
    normalize: bool,
) -> Tensor:
    """SDD loss from ``(log p, log q, log u, log v)`` and the total variances ``s_a``, ``s_b``."""
    log_p, log_q, log_u, log_v = log_densities
    div = _divergence(log_p, log_q, normalize) + _divergence(log_u, log_v, normalize)
    return _scaled_by_spread(div, a, b, s_a, s_b, spread)


def _check_pair(a: Tensor, b: Tensor, min_rows: int) -> None:
    """Validate the two sets ``a`` (n, d) and ``b`` (m, d) of a distribution loss."""
    _check_matrix(a, "a", min_rows=min_rows)
    _check_matrix(b, "b", min_rows=min_rows)
    _check_same_dim(a, b, "a and b")


def sdd_loss(
    a: Tensor,
    b: Tensor,
    *,
    bandwidth: float = 0.5,
    leave_one_out: bool = False,
    spread: str = "range",
    normalize: bool = False,
    chunk_size: int | None = None,
) -> Tensor:
    """Semantic density distribution (SDD) loss between sets ``a`` (n, d) and ``b`` (m, d).

    For a reference set ``S`` let ``s_S = sum_k var(S[:, k])`` (unbiased variance) and
    ``rho_S(x) = mean_{t in S} exp(-||x - t||^2 / (4 h^2 s_S))`` with ``h = bandwidth``. With
    ``leave_one_out`` the term ``t = x`` is dropped for densities of a set's own rows (mean over
    ``|S| - 1``). Then ``p_i = rho_A(a_i)``, ``q_i = rho_B(a_i)``, ``u_j = rho_B(b_j)``,
    ``v_j = rho_A(b_j)``; with ``normalize`` each of p, q, u, v is divided by its own sum, and

        ``D = sum_i (p_i - q_i)(log p_i - log q_i) + sum_j (u_j - v_j)(log u_j - log v_j)``.

    ``spread="none"`` returns ``D``; otherwise ``D * (1 / r_A + 1 / r_B)`` where
    ``r_S = sum_k (max_k S - min_k S)^2`` for ``"range"`` and ``r_S = s_S`` for ``"variance"``.
    Densities are handled in the log domain (logsumexp), so underflow does not produce NaNs.
    Both sets need at least 2 rows (unbiased variance) and non-zero variance.
    ``chunk_size`` (None: full matrices) selects the memory-bounded kernel of
    :mod:`gentleclip.losses.chunked`, which works on that many rows at a time.

    Example:
        >>> a, b = torch.randn(8, 4), torch.randn(6, 4) + 1.0
        >>> float(sdd_loss(a, b)) > 0.0
        True
    """
    opts = validate_sdd_options(
        bandwidth=bandwidth, leave_one_out=leave_one_out, spread=spread, normalize=normalize
    )
    return sdd_and_mmd(a, b, sdd=opts, chunk_size=chunk_size)["sdd"]


# --------------------------------------------------------------------------------------------
# MK-MMD
# --------------------------------------------------------------------------------------------


def _kth_smallest(values: Tensor, k: int) -> float:
    """The ``k``-th smallest (0-based) entry of a flat tensor, exactly, fast when it is large.

    For large inputs the answer is bracketed with order statistics of a strided sample and
    then selected among the values inside the bracket; if the bracket misses, the whole
    tensor is searched.
    """
    n = values.numel()
    if n < 1 << 20:
        return _select(values, k)
    sample = values[:: n // 65536].sort().values
    pos = int(k / n * (sample.numel() - 1))
    lo = sample[max(pos - 1000, 0)]
    hi = sample[min(pos + 1000, sample.numel() - 1)]
    below = int(torch.count_nonzero(values < lo))
    window = values[(values >= lo) & (values <= hi)]
    if not below <= k < below + window.numel():
        return _select(values, k)
    return _select(window, k - below)


def _select(values: Tensor, k: int) -> float:
    """The ``k``-th smallest (0-based) entry of a flat detached tensor: the same value from
    ``np.partition`` for float32/64 on CPU (3.6x faster than ``kthvalue`` at 10,816 entries)
    as from ``kthvalue`` otherwise."""
    if values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64):
        return float(np.partition(values.numpy(), k)[k])
    return float(values.kthvalue(k + 1).values)


def _median_sq_dist(d: Tensor) -> float:
    """Lower median (``torch.median`` semantics) of the off-diagonal entries of the pooled
    ``(n + m, n + m)`` squared-distance matrix of ``[a; b]``.

    Every unordered pair appears twice off the diagonal, so the lower median over those
    entries equals the lower median over the distinct pairs: the strict upper triangle.
    ``triu`` keeps the matrix's shape and writes zeros elsewhere; as distances are >= 0 those
    padding zeros sort first, so the wanted order statistic is shifted by their count. The
    value is a detached constant, clamped below at the dtype's eps.
    """
    size = d.shape[0]
    with torch.no_grad():
        values = d.triu(1).reshape(-1)
    pairs = size * (size - 1) // 2
    median = _kth_smallest(values, size * (size + 1) // 2 + (pairs - 1) // 2)
    return max(median, torch.finfo(values.dtype).eps)


# Above this many kernel entries (scales x rows x columns) _KernelSum loops over the scales
# instead of stacking every kernel matrix at once (memory: two matrices instead of S).
STACKED_KERNEL_ENTRIES = 1 << 22


class _KernelSum(torch.autograd.Function):
    """``sum_s sum_{i,j} w_ij exp(-d_ij / s)`` with a one-matrix backward.

    Small inputs: every scale's kernel in one stacked (S, n, m) tensor, a handful of ops in
    all (the per-op overhead dominates such sizes). Large inputs: scales are visited from the
    largest down and, when a scale is exactly half the previous one, the kernel matrix is
    squared instead of recomputing ``exp`` (the default multipliers form such a chain). Only
    ``w * sum_s exp(-d / s) * (-1 / s)``, the derivative, is kept for backward.
    """

    @staticmethod
    def forward(ctx: Any, d: Tensor, scales: tuple[float, ...], weights: Tensor) -> Tensor:
        if d.numel() * len(scales) <= STACKED_KERNEL_ENTRIES:
            kernel, slope = _kernel_sum_stacked(d, scales)
        else:
            kernel, slope = _kernel_sum_looped(d, scales)
        ctx.save_for_backward(slope.mul_(weights))
        return torch.dot(kernel.reshape(-1), weights.reshape(-1))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (slope,) = ctx.saved_tensors
        return grad * slope, None, None


def _kernel_sum_stacked(d: Tensor, scales: tuple[float, ...]) -> tuple[Tensor, Tensor]:
    """``(sum_s exp(-d / s), sum_s exp(-d / s) * (-1 / s))`` with the S kernels stacked."""
    rates = torch.tensor([-1.0 / s for s in scales], dtype=d.dtype, device=d.device)
    kernels = torch.mul(d.unsqueeze(0), rates[:, None, None]).exp_()
    slope = (rates @ kernels.view(len(scales), -1)).view_as(d)
    return kernels.sum(dim=0), slope


def _kernel_sum_looped(d: Tensor, scales: tuple[float, ...]) -> tuple[Tensor, Tensor]:
    """:func:`_kernel_sum_stacked` one scale at a time (squaring chains, two buffers)."""
    slope = torch.zeros_like(d)
    total = torch.zeros_like(d)
    for s, kernel in scale_chain(d, scales):
        total += kernel
        slope.add_(kernel, alpha=-1.0 / s)
    return total, slope


def scale_chain(d: Tensor, scales: Sequence[float]) -> Iterator[tuple[float, Tensor]]:
    """Yield ``(s, exp(-d / s))`` from the largest scale down, in one reused buffer.

    When a scale is exactly half the previous one the buffer is squared instead of
    recomputing ``exp`` (the default multipliers form such a chain). Each yielded buffer is
    overwritten by the next step: use it (or zero parts of it) before advancing.
    """
    kernel = torch.empty_like(d)
    previous = math.inf
    for s in sorted(scales, reverse=True):
        if previous == 2.0 * s:
            kernel.square_()
        else:
            torch.mul(d, -1.0 / s, out=kernel).exp_()
        previous = s
        yield s, kernel


def _mmd_weights(n: int, m: int, unbiased: bool, like: Tensor) -> Tensor:
    """Entry weights of the pooled kernel matrix whose weighted sum is MMD^2 (times S):
    ``1 / n^2`` on A x A, ``1 / m^2`` on B x B, ``-1 / (n m)`` on both cross blocks; with
    ``unbiased``, ``1 / (n (n - 1))`` and ``1 / (m (m - 1))`` and a zero diagonal."""
    own_a, own_b = (n * (n - 1), m * (m - 1)) if unbiased else (n * n, m * m)
    weights = like.new_full((n + m, n + m), -1.0 / (n * m))
    weights[:n, :n] = 1.0 / own_a
    weights[n:, n:] = 1.0 / own_b
    if unbiased:
        weights.diagonal().zero_()
    return weights


def _mmd_from_pooled(
    d: Tensor,
    n: int,
    *,
    bandwidths: Sequence[float] | None,
    multipliers: Sequence[float],
    unbiased: bool,
) -> Tensor:
    """MK-MMD^2 from the pooled squared distances of ``[a; b]`` (``a`` has ``n`` rows); see
    :func:`mk_mmd` for the math."""
    if bandwidths is None:
        median = _median_sq_dist(d)
        scales = tuple(median * t for t in multipliers)
    else:
        scales = tuple(bandwidths)
    weights = _mmd_weights(n, d.shape[0] - n, unbiased, d)
    return _KernelSum.apply(d, scales, weights) / len(scales)


def mk_mmd(
    a: Tensor,
    b: Tensor,
    *,
    bandwidths: Sequence[float] | None = None,
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
    unbiased: bool = False,
    chunk_size: int | None = None,
) -> Tensor:
    """Squared multi-kernel MMD between sets ``a`` (n, d) and ``b`` (m, d).

    Kernel ``k(x, y) = mean_{s in bandwidths} exp(-||x - y||^2 / s)``. If ``bandwidths`` is
    None, ``s = t * median`` for ``t`` in ``multipliers``, where ``median`` is the lower median
    (``torch.median`` semantics) of the off-diagonal squared distances of the pooled set
    ``[a; b]``, detached from the graph (and clamped below at the dtype's eps).

        ``MMD^2 = mean k(A, A) + mean k(B, B) - 2 mean k(A, B)``

    With ``unbiased`` the diagonals are dropped from the two within-set means (each side then
    needs at least 2 rows); the unbiased estimate can be negative. ``chunk_size`` (None: full
    matrices) selects the memory-bounded kernel of :mod:`gentleclip.losses.chunked`, whose
    median heuristic uses a fixed seeded subsample of at most 4096 rows per side.

    Example:
        >>> a = torch.randn(8, 4)
        >>> abs(float(mk_mmd(a, a))) < 1e-6  # zero up to rounding
        True
    """
    opts = validate_mmd_options(bandwidths=bandwidths, multipliers=multipliers, unbiased=unbiased)
    return sdd_and_mmd(a, b, mmd=opts, chunk_size=chunk_size)["mmd"]


# --------------------------------------------------------------------------------------------
# shared computation
# --------------------------------------------------------------------------------------------


def sdd_and_mmd(
    a: Tensor,
    b: Tensor,
    *,
    sdd: dict[str, Any] | None = None,
    mmd: dict[str, Any] | None = None,
    chunk_size: int | None = None,
) -> dict[str, Tensor]:
    """Compute :func:`sdd_loss` and/or :func:`mk_mmd` from one pooled distance matrix.

    Both terms read the ``(n + m, n + m)`` squared distances of ``[a; b]`` (its blocks are
    ``d_AA``, ``d_AB``, ``d_BB``): SDD as two row-wise log-mean-exps over its A and B columns,
    MK-MMD as one weighted kernel sum. At 52 rows a side (forward and backward) that is 25%
    fewer ops and about 40% less CPU time than working on the three blocks separately.

    ``sdd`` / ``mmd`` are the keyword arguments of :func:`sdd_loss` / :func:`mk_mmd` (``{}``
    for the defaults); a term is computed, and its key present in the result, only when its
    dict is not None. Half-precision inputs are upcast to float32 and autocast is disabled
    here, since squared distances and densities lose too much in 16-bit floats. With
    ``chunk_size`` the matrices are never materialised whole:
    :func:`gentleclip.losses.chunked.sdd_and_mmd_chunked` computes both terms in row chunks.

    Example:
        >>> a, b = torch.randn(8, 4), torch.randn(6, 4)
        >>> sorted(sdd_and_mmd(a, b, sdd={}, mmd={"unbiased": True}))
        ['mmd', 'sdd']
    """
    if chunk_size is not None:
        from gentleclip.losses.chunked import sdd_and_mmd_chunked

        return sdd_and_mmd_chunked(a, b, sdd=sdd, mmd=mmd, chunk_size=chunk_size)
    a, b, sdd_opts, mmd_opts = _prepare_distribution(a, b, sdd, mmd)
    out: dict[str, Tensor] = {}
    with torch.autocast(device_type=a.device.type, enabled=False):
        pooled = torch.cat([a, b])
        d = pairwise_sq_dists(pooled, pooled)
        if sdd_opts is not None:
            out["sdd"] = _sdd_from_pooled(a, b, d, **sdd_opts)
        if mmd_opts is not None:
            out["mmd"] = _mmd_from_pooled(d, a.shape[0], **mmd_opts)
    return out


def _prepare_distribution(
    a: Tensor, b: Tensor, sdd: dict[str, Any] | None, mmd: dict[str, Any] | None
) -> tuple[Tensor, Tensor, dict[str, Any] | None, dict[str, Any] | None]:
    """Validate the sets and options of :func:`sdd_and_mmd`; upcast half precision to float32.

    Returns ``(a, b, sdd_options, mmd_options)`` with the options merged over the defaults.
    """
    sdd_opts = None if sdd is None else validate_sdd_options(**_with_defaults(sdd, _SDD_DEFAULTS))
    mmd_opts = None if mmd is None else validate_mmd_options(**_with_defaults(mmd, _MMD_DEFAULTS))
    min_rows = 1
    if sdd_opts is not None:
        min_rows = 2
    if mmd_opts is not None and mmd_opts["unbiased"]:
        min_rows = 2
    _check_pair(a, b, min_rows)
    if a.dtype in (torch.float16, torch.bfloat16):  # distances need at least float32
        a, b = a.float(), b.float()
    return a, b, sdd_opts, mmd_opts


_SDD_DEFAULTS: dict[str, Any] = {
    "bandwidth": 0.5,
    "leave_one_out": False,
    "spread": "range",
    "normalize": False,
}
_MMD_DEFAULTS: dict[str, Any] = {
    "bandwidths": None,
    "multipliers": DEFAULT_MULTIPLIERS,
    "unbiased": False,
}


def _with_defaults(given: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Merge ``given`` keyword options over ``defaults``; unknown keys raise InputError."""
    if not isinstance(given, dict):
        raise InputError(f"loss options must be a dict, got {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"unknown loss option(s) {unknown}; expected {sorted(defaults)}")
    return {**defaults, **given}


# --------------------------------------------------------------------------------------------
# CLIP / InfoNCE
# --------------------------------------------------------------------------------------------


def _scale_from(temperature: float, logit_scale: Tensor | None) -> Tensor | float:
    """The logit multiplier: ``logit_scale`` if given, else ``1 / temperature``."""
    if logit_scale is None:
        return 1.0 / _check_positive(temperature, "temperature")
    if not isinstance(logit_scale, Tensor) or logit_scale.numel() != 1:
        raise InputError("logit_scale must be a tensor holding a single value")
    return logit_scale.reshape(())


def _with_extra(x: Tensor, extra: Tensor | None, name: str) -> Tensor:
    """``x`` with the rows of ``extra`` appended (validated), or ``x`` itself."""
    if extra is None:
        return x
    _check_matrix(extra, name, min_rows=0)
    _check_same_dim(x, extra, f"{name} and the paired rows")
    return torch.cat([x, extra], dim=0)


def clip_loss(
    a: Tensor,
    b: Tensor,
    *,
    temperature: float = 0.05,
    logit_scale: Tensor | None = None,
    extra_a: Tensor | None = None,
    extra_b: Tensor | None = None,
    chunk_size: int | None = None,
) -> Tensor:
    """Symmetric InfoNCE (CLIP) loss on matched pairs ``a`` (P, d), ``b`` (P, d).

    Rows are assumed L2-normalised; row i of ``a`` matches row i of ``b``. With
    ``scale = logit_scale`` (a tensor, used as the multiplier directly) or ``1 / temperature``,
    the a->b logits are ``a @ [b; extra_b]^T * scale`` and the b->a logits
    ``b @ [a; extra_a]^T * scale``; the loss is the mean of the two cross-entropies with
    target ``i`` for row ``i``. ``extra_a`` (Ua, d) / ``extra_b`` (Ub, d) are unpaired rows used
    only as additional negatives. ``P == 0`` raises InputError (skip the term instead).
    ``chunk_size`` (None: full logit matrices) selects the memory-bounded kernel of
    :mod:`gentleclip.losses.chunked` (float32 or wider inside, autocast off).

    Example:
        >>> a = F.normalize(torch.randn(4, 8), dim=1)
        >>> float(clip_loss(a, a, temperature=1e-3)) < 1e-6
        True
    """
    if chunk_size is not None:
        from gentleclip.losses.chunked import clip_loss_chunked

        return clip_loss_chunked(
            a, b, chunk_size=chunk_size, temperature=temperature, logit_scale=logit_scale,
            extra_a=extra_a, extra_b=extra_b,
        )  # fmt: skip
    scale = _scale_from(temperature, logit_scale)
    _check_matrix(a, "a")
    _check_matrix(b, "b")
    _check_same_shape(a, b, "a and b")
    cols_b = _with_extra(b, extra_b, "extra_b")
    cols_a = _with_extra(a, extra_a, "extra_a")
    target = torch.arange(a.shape[0], device=a.device)
    loss_ab = F.cross_entropy((a @ cols_b.T) * scale, target)
    loss_ba = F.cross_entropy((b @ cols_a.T) * scale, target)
    return 0.5 * (loss_ab + loss_ba)


# --------------------------------------------------------------------------------------------
# bag-level InfoNCE
# --------------------------------------------------------------------------------------------


def check_bag_ids(bags: Any, rows: int, name: str, *, per: str = "row") -> Tensor:
    """``bags`` when it is a 1-D integer tensor with one id per ``per`` (``rows`` of them);
    otherwise an InputError naming ``name`` and what was wrong (type, shape or dtype)."""
    if not isinstance(bags, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(bags).__name__}")
    if bags.dim() != 1 or bags.shape[0] != rows:
        raise InputError(
            f"{name} must have shape ({rows},) (one bag id per {per}), got {tuple(bags.shape)}"
        )
    if bags.is_floating_point() or bags.is_complex() or bags.dtype == torch.bool:
        raise InputError(f"{name} must hold integer bag ids, got dtype {bags.dtype}")
    return bags


def bag_mean_embeddings(z: Tensor, bags: Tensor, ids: Tensor) -> Tensor:
    """``(K, d)``: for each id in ``ids`` (K,), the mean of the rows of ``z`` (N, d) whose
    entry in ``bags`` (N,) is that id, L2-normalised. Every id must occur in ``bags``."""
    member = (bags[None, :] == ids[:, None]).to(z.dtype)  # (K, N)
    counts = member.sum(dim=1, keepdim=True)
    if bool((counts == 0).any()):
        raise InputError("bag_mean_embeddings: an id in ids has no row in bags")
    return F.normalize((member @ z) / counts, dim=1)


def bag_clip_loss(
    a: Tensor,
    b: Tensor,
    bags_a: Tensor,
    bags_b: Tensor,
    *,
    temperature: float = 0.05,
) -> Tensor:
    """Symmetric InfoNCE between bags: CLIP on each bag's mean A and mean B embedding.

    ``a`` (N_a, d) and ``b`` (N_b, d) are L2-normalised embeddings of unpaired rows;
    ``bags_a`` (N_a,) and ``bags_b`` (N_b,) their integer bag ids (a bag's A rows and B rows
    describe the same objects, in unknown order). Over the ``K`` ids present on both sides,
    sorted, with ``A_k`` the A rows of bag ``k``::

        m^A_k = mu^A_k / ||mu^A_k||,   mu^A_k = (1 / |A_k|) sum_{i in A_k} a_i

    (``m^B_k`` likewise) and ``L = clip_loss(m^A, m^B, temperature)``: bag ``k``'s mean A
    embedding should be nearer its own mean B embedding than any other bag's, and vice versa.
    Means are taken in the embedding space, after the towers, so the towers are trained on
    single items (as they are used), unlike pairs of mean input features. Rows of a bag
    present on one side only are ignored. Fewer than 2 common bags raise InputError (one
    bag has no negative; skip the term instead).

    Example:
        >>> z = F.normalize(torch.randn(6, 4), dim=1)
        >>> ids = torch.tensor([0, 0, 1, 1, 2, 2])
        >>> float(bag_clip_loss(z, z, ids, ids, temperature=1e-3)) < 1e-3
        True
    """
    _check_positive(temperature, "temperature")
    _check_matrix(a, "a")
    _check_matrix(b, "b")
    _check_same_dim(a, b, "a and b")
    bags_a = check_bag_ids(bags_a, a.shape[0], "bags_a").to(a.device)
    bags_b = check_bag_ids(bags_b, b.shape[0], "bags_b").to(a.device)
    ids = common_bag_ids(bags_a, bags_b)
    if ids.numel() < 2:
        raise InputError(
            f"bag_clip_loss needs at least 2 bags present on both sides, got {ids.numel()}"
        )
    mean_a = bag_mean_embeddings(a, bags_a, ids)
    mean_b = bag_mean_embeddings(b, bags_b, ids)
    return clip_loss(mean_a, mean_b, temperature=temperature)


def common_bag_ids(bags_a: Tensor, bags_b: Tensor) -> Tensor:
    """The sorted ids present in both ``bags_a`` and ``bags_b``."""
    ids_a = torch.unique(bags_a)
    return ids_a[torch.isin(ids_a, bags_b)]


# --------------------------------------------------------------------------------------------
# NT-Xent
# --------------------------------------------------------------------------------------------


def ntxent_loss(z1: Tensor, z2: Tensor, *, temperature: float = 0.05) -> Tensor:
    """SimCLR NT-Xent loss for two views ``z1``, ``z2`` (N, d) of the same N items.

    The 2N rows ``z = [z1; z2]`` are L2-normalised, ``sim = z z^T / temperature``; for anchor
    ``i`` the positive is the other view of the same item and the denominator runs over all
    ``2N - 1`` other rows (self excluded). The loss is the mean cross-entropy over the 2N
    anchors. Requires ``N >= 2``.

    Example:
        >>> z = torch.randn(4, 8)
        >>> float(ntxent_loss(z, z)) > 0.0
        True
    """
    inv_t = 1.0 / _check_positive(temperature, "temperature")
    _check_matrix(z1, "z1", min_rows=2)
    _check_matrix(z2, "z2", min_rows=2)
    _check_same_shape(z1, z2, "z1 and z2")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    sim = (z @ z.T) * inv_t
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, -math.inf)
    idx = torch.arange(n, device=z.device)
    target = torch.cat([idx + n, idx])
    return F.cross_entropy(sim, target)


# --------------------------------------------------------------------------------------------
# neighbourhood preservation
# --------------------------------------------------------------------------------------------


def neighbourhood_loss(
    x: Tensor, z: Tensor, *, temperature: float = 0.1, bandwidth: float = 0.05
) -> Tensor:
    """Mean KL divergence between each row's neighbours in input space and in embedding space.

    For N rows with input features ``x`` (N, d_x), a fixed target (no gradient reaches it),
    and embeddings ``z`` (N, D), for every ``i`` and ``j != i``:

        ``P_ij = exp(-||x_i - x_j||^2 / (h m)) / sum_{k != i} exp(-||x_i - x_k||^2 / (h m))``
        ``Q_ij = exp(<z_i, z_j> / t) / sum_{k != i} exp(<z_i, z_k> / t)``
        ``L = (1 / N) sum_i sum_{j != i} P_ij (log P_ij - log Q_ij)``

    with ``m`` the lower median of the off-diagonal squared input distances (clamped below at
    the dtype's eps), ``h = bandwidth`` and ``t = temperature``. ``L >= 0``, and 0 when each
    row ranks and weighs its neighbours alike in both spaces. Each modality's own rows keep
    the neighbourhoods their input features give them, paired or not: the stochastic
    neighbour embedding objective (Hinton & Roweis 2002) with the cosine kernel of the
    shared space. Requires N >= 2; half-precision inputs are computed in float32.

    Example:
        >>> x = torch.randn(6, 5)
        >>> float(neighbourhood_loss(x, F.normalize(x, dim=1))) >= 0.0
        True
    """
    inv_t = 1.0 / _check_positive(temperature, "temperature")
    width = _check_positive(bandwidth, "bandwidth")
    _check_matrix(x, "x", min_rows=2)
    _check_matrix(z, "z", min_rows=2)
    if x.shape[0] != z.shape[0]:
        raise InputError(f"x and z must have the same rows, got {x.shape[0]} and {z.shape[0]}")
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()
    n = z.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)
    with torch.no_grad():
        inputs = x.detach().to(z.dtype)
        d = pairwise_sq_dists(inputs, inputs)
        log_p = torch.log_softmax(d[off].view(n, n - 1) / (-width * _median_sq_dist(d)), dim=1)
    log_q = torch.log_softmax((z @ z.T)[off].view(n, n - 1) * inv_t, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum() / n
