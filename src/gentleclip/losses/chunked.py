"""Memory-bounded (row-chunked) kernels for the SDD, MK-MMD and CLIP losses.

The full-matrix functionals of :mod:`gentleclip.losses.functional` materialise ``B x B``
matrices (squared distances, kernels, logits). The kernels here never do: a custom autograd
Function walks over ``chunk_size`` rows at a time in the forward pass and keeps only per-row
statistics (log-sum-exp of the SDD densities, kernel sums of MK-MMD, log-softmax
normalisers of CLIP), saving the ``O(B * d)`` inputs and ``O(B)`` statistics. The backward
recomputes each chunk's matrix and accumulates the gradients chunk by chunk, so peak memory
is ``O(B * chunk_size)`` in both passes instead of ``O(B^2)``. Values and gradients are those
of the full-matrix path up to floating-point summation order.

SDD and MK-MMD share one pass per distance block (A-A, B-B, A-B); the column densities
``rho_A(b_j)`` of the A-B block are accumulated across row chunks with an online
log-sum-exp.

Median heuristic: when MK-MMD's ``bandwidths`` is None, the median of the pooled squared
distances comes from a fixed-size random subsample of at most ``median_sample_rows`` rows
per side (default :data:`MEDIAN_SAMPLE_ROWS`), drawn with a generator seeded by
:data:`MEDIAN_SEED`, so it is reproducible and identical on every data-parallel rank. A side
with at most that many rows is used whole, so for such batches the median, and hence the
loss, equal the full-matrix path exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from gentleclip.errors import InputError
from gentleclip.losses import functional as LF

__all__ = [
    "MEDIAN_SAMPLE_ROWS",
    "MEDIAN_SEED",
    "check_chunk_size",
    "clip_loss_chunked",
    "mk_mmd_chunked",
    "sdd_and_mmd_chunked",
    "sdd_loss_chunked",
    "subsample_median_sq_dist",
]

MEDIAN_SAMPLE_ROWS: int = 4096
"""Default cap on the rows per side used by the chunked median heuristic."""

MEDIAN_SEED: int = 0
"""Seed of the generator that draws the median heuristic's subsample."""


def check_chunk_size(chunk_size: Any, name: str = "chunk_size") -> int | None:
    """Return ``chunk_size`` (None or an int >= 1), raising InputError otherwise."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"{name} must be a positive integer or None, got {chunk_size!r}")
    return chunk_size


def _ranges(n: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive row chunks covering ``range(n)``."""
    for start in range(0, n, chunk):
        yield start, min(start + chunk, n)


# --------------------------------------------------------------------------------------------
# one chunk of a distance block
# --------------------------------------------------------------------------------------------


def _diagonal(block: Tensor, start: int) -> Tensor:
    """View of the entries ``(i, start + i)`` of a row chunk of a self-distance matrix."""
    return block[:, start : start + block.shape[0]].diagonal()


def _dist_chunk(
    x_c: Tensor, y: Tensor, x_sq_c: Tensor, y_sq: Tensor, self_start: int | None
) -> Tensor:
    """Rows of ``||x_i - y_j||^2`` (clamped at 0), as ``pairwise_sq_dists`` computes them.

    ``self_start`` is the chunk's first row when ``y`` is ``x``: its diagonal is set to 0.
    """
    d = torch.addmm(y_sq[None, :], x_c, y.T, alpha=-2.0).add_(x_sq_c[:, None]).clamp_min_(0.0)
    if self_start is not None:
        _diagonal(d, self_start).zero_()
    return d


def _kernels(
    d: Tensor, scales: tuple[float, ...], drop_start: int | None
) -> Iterator[tuple[float, Tensor]]:
    """Yield ``(s, exp(-d / s))`` as :func:`~gentleclip.losses.functional.scale_chain` does
    (largest scale first, one reused buffer); with ``drop_start`` the diagonal entries are zero.
    """
    for s, kernel in LF.scale_chain(d, scales):
        if drop_start is not None:
            _diagonal(kernel, drop_start).zero_()
        yield s, kernel


# --------------------------------------------------------------------------------------------
# SDD + MK-MMD statistics of one distance block
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What the chunked passes compute (SDD log-sum-exps and/or MMD kernel sums)."""

    chunk: int
    sdd: bool
    leave_one_out: bool
    scales: tuple[float, ...] | None  # MK-MMD scales; None: no MMD
    unbiased: bool


@dataclass(frozen=True)
class _Block:
    """Rows ``x`` against columns ``y`` of one distance block and what it contributes.

    ``coef_row`` / ``coef_col`` multiply the distances inside the per-row / per-column
    log-sum-exp (None: not computed); ``self_pair`` means ``y`` is ``x``.
    """

    x: Tensor
    y: Tensor
    self_pair: bool
    coef_row: Tensor | None
    coef_col: Tensor | None


def _lse_(logits: Tensor, dim: int) -> Tensor:
    """``log sum exp`` of ``logits`` along ``dim``, using ``logits`` as scratch space."""
    peak = logits.amax(dim=dim, keepdim=True)
    total = logits.sub_(peak).exp_().sum(dim=dim)
    return total.log_().add_(peak.squeeze(dim))


def _row_lse(d: Tensor, coef: Tensor, drop_start: int | None) -> Tensor:
    """``log sum_j exp(coef * d_ij)`` per row, without the diagonal when ``drop_start``."""
    logits = d * coef
    if drop_start is not None:
        _diagonal(logits, drop_start).fill_(-math.inf)
    return _lse_(logits, 1)


def _block_forward(
    block: _Block, plan: _Plan
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """(row log-sum-exp, column log-sum-exp, kernel sum) of a block, chunk by chunk."""
    x, y = block.x, block.y
    x_sq, y_sq = (x * x).sum(dim=1), (y * y).sum(dim=1)
    row = None if block.coef_row is None else x.new_empty(x.shape[0])
    col = None if block.coef_col is None else x.new_full((y.shape[0],), -math.inf)
    kernel = None if plan.scales is None else x.new_zeros(())
    for start, stop in _ranges(x.shape[0], plan.chunk):
        self_start = start if block.self_pair else None
        d = _dist_chunk(x[start:stop], y, x_sq[start:stop], y_sq, self_start)
        if row is not None:
            drop = self_start if plan.leave_one_out else None
            row[start:stop] = _row_lse(d, block.coef_row, drop)
        if col is not None:
            col = torch.logaddexp(col, _lse_(d * block.coef_col, 0))
        if kernel is not None:
            drop = self_start if plan.unbiased else None
            for _, k in _kernels(d, plan.scales, drop):
                kernel += k.sum()
    return row, col, kernel


@dataclass
class _BlockGrads:
    """Upstream gradients of one block's statistics and the statistics themselves."""

    row_lse: Tensor | None
    col_lse: Tensor | None
    g_row: Tensor | None
    g_col: Tensor | None
    g_kernel: Tensor | None


def _grad_of_dists(
    block: _Block, grads: _BlockGrads, plan: _Plan, d: Tensor, start: int, stop: int
) -> tuple[Tensor, Tensor, Tensor]:
    """dL/d(distance chunk), and the chunk's contributions to dL/dcoef_row and dL/dcoef_col."""
    self_start = start if block.self_pair else None
    gd = torch.zeros_like(d)
    zero = d.new_zeros(())
    g_coef_row, g_coef_col = zero, zero
    if grads.g_kernel is not None and plan.scales is not None:
        drop = self_start if plan.unbiased else None
        for s, k in _kernels(d, plan.scales, drop):
            gd.add_(k, alpha=-1.0 / s)
        gd.mul_(grads.g_kernel)
    if grads.g_row is not None and block.coef_row is not None:
        w = d * block.coef_row
        w.sub_(grads.row_lse[start:stop, None]).exp_().mul_(grads.g_row[start:stop, None])
        if plan.leave_one_out and self_start is not None:
            _diagonal(w, self_start).zero_()
        g_coef_row = torch.dot(w.reshape(-1), d.reshape(-1))
        gd.add_(w.mul_(block.coef_row))
    if grads.g_col is not None and block.coef_col is not None:
        w = d * block.coef_col
        w.sub_(grads.col_lse[None, :]).exp_().mul_(grads.g_col[None, :])
        g_coef_col = torch.dot(w.reshape(-1), d.reshape(-1))
        gd.add_(w.mul_(block.coef_col))
    return gd, g_coef_row, g_coef_col


def _block_backward(
    block: _Block, grads: _BlockGrads, plan: _Plan, grad_x: Tensor, grad_y: Tensor
) -> tuple[Tensor, Tensor]:
    """Accumulate dL/dx, dL/dy into ``grad_x``, ``grad_y``; return (dL/dcoef_row, _col).

    ``grad_x`` and ``grad_y`` are the same buffer for a self block: both arguments of the
    distance are the same rows. The derivative used is that of the exact distance,
    ``2 (x_i - y_j)``, also where rounding made the clamp at 0 active.
    """
    x, y = block.x, block.y
    x_sq, y_sq = (x * x).sum(dim=1), (y * y).sum(dim=1)
    col_sums = y.new_zeros(y.shape[0])
    g_row_coef, g_col_coef = x.new_zeros(()), x.new_zeros(())
    for start, stop in _ranges(x.shape[0], plan.chunk):
        x_c = x[start:stop]
        self_start = start if block.self_pair else None
        d = _dist_chunk(x_c, y, x_sq[start:stop], y_sq, self_start)
        gd, g_r, g_c = _grad_of_dists(block, grads, plan, d, start, stop)
        del d
        g_row_coef += g_r
        g_col_coef += g_c
        grad_x[start:stop] += torch.addmm(gd.sum(dim=1)[:, None] * x_c, gd, y, beta=2.0, alpha=-2.0)
        grad_y.addmm_(gd.T, x_c, alpha=-2.0)
        col_sums += gd.sum(dim=0)
    grad_y.add_(col_sums[:, None] * y, alpha=2.0)
    return g_row_coef, g_col_coef


def _blocks(a: Tensor, b: Tensor, coef_a: Tensor, coef_b: Tensor, sdd: bool) -> list[_Block]:
    """The A-A, B-B and A-B blocks: densities ``p``; ``u``; ``q`` (rows) and ``v`` (columns)."""
    return [
        _Block(a, a, True, coef_a if sdd else None, None),
        _Block(b, b, True, coef_b if sdd else None, None),
        _Block(a, b, False, coef_b if sdd else None, coef_a if sdd else None),
    ]


class _DistributionStats(torch.autograd.Function):
    """Chunked statistics of SDD and MK-MMD for sets ``a`` (n, d) and ``b`` (m, d).

    Returns ``(lse_p, lse_u, lse_q, lse_v, k_aa, k_bb, k_ab)``: the log-sum-exps over the
    density kernels of ``p_i = rho_A(a_i)``, ``u_j = rho_B(b_j)``, ``q_i = rho_B(a_i)`` and
    ``v_j = rho_A(b_j)`` (zeros when SDD is off) and the kernel sums ``sum_s sum_ij
    exp(-d_ij / s)`` of the three blocks (zeros when MMD is off). Only ``a``, ``b``, the two
    coefficients and the four O(n + m) log-sum-exps are saved for backward.
    """

    @staticmethod
    def forward(
        ctx: Any, a: Tensor, b: Tensor, coef_a: Tensor, coef_b: Tensor, plan: _Plan
    ) -> tuple[Tensor, ...]:
        (p, _, k_aa), (u, _, k_bb), (q, v, k_ab) = (
            _block_forward(block, plan) for block in _blocks(a, b, coef_a, coef_b, plan.sdd)
        )
        lses = [
            a.new_zeros(a.shape[0]) if p is None else p,
            b.new_zeros(b.shape[0]) if u is None else u,
            a.new_zeros(a.shape[0]) if q is None else q,
            b.new_zeros(b.shape[0]) if v is None else v,
        ]
        kernels = [a.new_zeros(()) if k is None else k for k in (k_aa, k_bb, k_ab)]
        ctx.plan = plan
        ctx.save_for_backward(a, b, coef_a, coef_b, *lses)
        return (*lses, *kernels)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        plan: _Plan = ctx.plan
        a, b, coef_a, coef_b, lse_p, lse_u, lse_q, lse_v = ctx.saved_tensors
        g_p, g_u, g_q, g_v, g_aa, g_bb, g_ab = grads
        grad_a, grad_b = torch.zeros_like(a), torch.zeros_like(b)
        on = plan.sdd
        block_grads = [
            _BlockGrads(lse_p, None, g_p if on else None, None, g_aa),
            _BlockGrads(lse_u, None, g_u if on else None, None, g_bb),
            _BlockGrads(lse_q, lse_v, g_q if on else None, g_v if on else None, g_ab),
        ]
        if plan.scales is None:
            for bg in block_grads:
                bg.g_kernel = None
        blocks = _blocks(a, b, coef_a, coef_b, on)
        buffers = [(grad_a, grad_a), (grad_b, grad_b), (grad_a, grad_b)]
        coef_grads = []
        for block, bg, (gx, gy) in zip(blocks, block_grads, buffers, strict=True):
            coef_grads.append(_block_backward(block, bg, plan, gx, gy))
        # coef_a feeds p (A-A rows) and v (A-B columns); coef_b feeds u (B-B) and q (A-B rows)
        grad_coef_a = coef_grads[0][0] + coef_grads[2][1]
        grad_coef_b = coef_grads[1][0] + coef_grads[2][0]
        return grad_a, grad_b, grad_coef_a.reshape(coef_a.shape), grad_coef_b, None


# --------------------------------------------------------------------------------------------
# median heuristic on a subsample
# --------------------------------------------------------------------------------------------


def _subsample(x: Tensor, rows: int, gen: torch.Generator) -> Tensor:
    """``x`` itself when it has at most ``rows`` rows, else ``rows`` random rows (in order)."""
    if x.shape[0] <= rows:
        return x
    idx = torch.randperm(x.shape[0], generator=gen)[:rows].sort().values
    return x[idx.to(x.device)]


def subsample_median_sq_dist(
    a: Tensor, b: Tensor, *, sample_rows: int = MEDIAN_SAMPLE_ROWS, seed: int = MEDIAN_SEED
) -> float:
    """MK-MMD's median heuristic from at most ``sample_rows`` rows of each of ``a`` and ``b``.

    The rows are drawn without replacement by a CPU generator seeded with ``seed`` (first for
    ``a``, then for ``b``); a side with at most ``sample_rows`` rows is used whole, so for
    small sets this equals the full-matrix median exactly. Memory is
    ``O(sample_rows^2)``. The value is a detached constant (see ``mk_mmd``).
    """
    rows = check_chunk_size(sample_rows, "median_sample_rows")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        a_s = _subsample(a.detach(), rows, gen)
        b_s = _subsample(b.detach(), rows, gen)
        pooled = torch.cat([a_s, b_s])
        return LF._median_sq_dist(LF.pairwise_sq_dists(pooled, pooled))


# --------------------------------------------------------------------------------------------
# public chunked functionals
# --------------------------------------------------------------------------------------------


def _sdd_coefs(a: Tensor, b: Tensor, bandwidth: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Total variances ``s_a``, ``s_b`` and the density exponent factors ``-1 / (4 h^2 s)``."""
    s_a = LF._total_variance(a, "a")
    s_b = LF._total_variance(b, "b")
    coef_a = -1.0 / (4.0 * bandwidth * bandwidth * s_a)
    coef_b = -1.0 / (4.0 * bandwidth * bandwidth * s_b)
    return s_a, s_b, coef_a, coef_b


def _mmd_scales(a: Tensor, b: Tensor, opts: dict[str, Any], sample_rows: int) -> tuple[float, ...]:
    """Kernel scales: the given bandwidths, or multipliers times the subsampled median."""
    if opts["bandwidths"] is not None:
        return tuple(opts["bandwidths"])
    median = subsample_median_sq_dist(a, b, sample_rows=sample_rows)
    return tuple(median * t for t in opts["multipliers"])


def _mmd_from_sums(
    sums: tuple[Tensor, ...], n: int, m: int, scales: tuple[float, ...], unbiased: bool
) -> Tensor:
    """MK-MMD^2 from the three kernel sums (means over entries, diagonals dropped if asked)."""
    k_aa, k_bb, k_ab = sums
    count_aa = n * n - (n if unbiased else 0)
    count_bb = m * m - (m if unbiased else 0)
    s = len(scales)
    return k_aa / (s * count_aa) + k_bb / (s * count_bb) - 2.0 * (k_ab / (s * n * m))


def sdd_and_mmd_chunked(
    a: Tensor,
    b: Tensor,
    *,
    sdd: dict[str, Any] | None = None,
    mmd: dict[str, Any] | None = None,
    chunk_size: int,
    median_sample_rows: int = MEDIAN_SAMPLE_ROWS,
) -> dict[str, Tensor]:
    """:func:`~gentleclip.losses.functional.sdd_and_mmd` in ``chunk_size``-row chunks.

    Same options, validation and results (up to summation order) as the full-matrix
    version, with peak memory ``O((n + m) * chunk_size)``; the median heuristic is taken
    from a subsample of at most ``median_sample_rows`` rows per side (module docstring).

    Example:
        >>> a, b = torch.randn(10, 4), torch.randn(7, 4)
        >>> out = sdd_and_mmd_chunked(a, b, sdd={}, mmd={}, chunk_size=3)
        >>> full = LF.sdd_and_mmd(a, b, sdd={}, mmd={})
        >>> bool(torch.allclose(out["sdd"], full["sdd"]))
        True
    """
    chunk = check_chunk_size(chunk_size)
    if chunk is None:
        raise InputError("chunk_size must be a positive integer, got None")
    a, b, sdd_opts, mmd_opts = LF._prepare_distribution(a, b, sdd, mmd)
    if sdd_opts is None and mmd_opts is None:
        return {}
    n, m = a.shape[0], b.shape[0]
    with torch.autocast(device_type=a.device.type, enabled=False):
        if sdd_opts is not None:
            s_a, s_b, coef_a, coef_b = _sdd_coefs(a, b, sdd_opts["bandwidth"])
        else:
            coef_a = coef_b = a.new_zeros(())
        scales = None if mmd_opts is None else _mmd_scales(a, b, mmd_opts, median_sample_rows)
        plan = _Plan(
            chunk=chunk,
            sdd=sdd_opts is not None,
            leave_one_out=sdd_opts is not None and sdd_opts["leave_one_out"],
            scales=scales,
            unbiased=mmd_opts is not None and mmd_opts["unbiased"],
        )
        stats = _DistributionStats.apply(a, b, coef_a, coef_b, plan)
        out: dict[str, Tensor] = {}
        if sdd_opts is not None:
            own = 1 if sdd_opts["leave_one_out"] else 0
            log_p = stats[0] - math.log(n - own)
            log_u = stats[1] - math.log(m - own)
            log_q = stats[2] - math.log(m)
            log_v = stats[3] - math.log(n)
            out["sdd"] = LF._sdd_from_log_densities(
                a, b, s_a, s_b, (log_p, log_q, log_u, log_v), sdd_opts["spread"],
                sdd_opts["normalize"],
            )  # fmt: skip
        if mmd_opts is not None:
            out["mmd"] = _mmd_from_sums(stats[4:], n, m, scales, mmd_opts["unbiased"])
    return out


def sdd_loss_chunked(
    a: Tensor,
    b: Tensor,
    *,
    chunk_size: int,
    bandwidth: float = 0.5,
    leave_one_out: bool = False,
    spread: str = "range",
    normalize: bool = False,
) -> Tensor:
    """:func:`~gentleclip.losses.functional.sdd_loss` computed in ``chunk_size``-row chunks."""
    opts = LF.validate_sdd_options(
        bandwidth=bandwidth, leave_one_out=leave_one_out, spread=spread, normalize=normalize
    )
    return sdd_and_mmd_chunked(a, b, sdd=opts, chunk_size=chunk_size)["sdd"]


def mk_mmd_chunked(
    a: Tensor,
    b: Tensor,
    *,
    chunk_size: int,
    bandwidths: Any = None,
    multipliers: Any = LF.DEFAULT_MULTIPLIERS,
    unbiased: bool = False,
    median_sample_rows: int = MEDIAN_SAMPLE_ROWS,
) -> Tensor:
    """:func:`~gentleclip.losses.functional.mk_mmd` computed in ``chunk_size``-row chunks.

    The median heuristic uses at most ``median_sample_rows`` rows per side.
    """
    opts = LF.validate_mmd_options(
        bandwidths=bandwidths, multipliers=multipliers, unbiased=unbiased
    )
    return sdd_and_mmd_chunked(
        a, b, mmd=opts, chunk_size=chunk_size, median_sample_rows=median_sample_rows
    )["mmd"]


# --------------------------------------------------------------------------------------------
# CLIP
# --------------------------------------------------------------------------------------------


class _RowLogSumExp(torch.autograd.Function):
    """``lse_i = log sum_j exp(scale * x_i . c_j)`` over row chunks of ``x`` (P, d).

    Saves ``x``, the columns ``c`` (K, d), ``scale`` and the P results; the backward
    recomputes each chunk's logits and its softmax.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, cols: Tensor, scale: Tensor, chunk: int) -> Tensor:
        lse = x.new_empty(x.shape[0])
        for start, stop in _ranges(x.shape[0], chunk):
            lse[start:stop] = torch.logsumexp((x[start:stop] @ cols.T) * scale, dim=1)
        ctx.chunk = chunk
        ctx.save_for_backward(x, cols, scale, lse)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        x, cols, scale, lse = ctx.saved_tensors
        grad_x, grad_cols = torch.zeros_like(x), torch.zeros_like(cols)
        grad_scale = x.new_zeros(())
        for start, stop in _ranges(x.shape[0], ctx.chunk):
            raw = x[start:stop] @ cols.T
            w = raw * scale
            w.sub_(lse[start:stop, None]).exp_().mul_(grad[start:stop, None])
            grad_scale += torch.dot(w.reshape(-1), raw.reshape(-1))
            w.mul_(scale)
            grad_x[start:stop] = w @ cols
            grad_cols.addmm_(w.T, x[start:stop])
        return grad_x, grad_cols, grad_scale.reshape(scale.shape), None


def _as_float(x: Tensor | None) -> Tensor | None:
    """Half-precision tensors upcast to float32 (logits need it); others unchanged."""
    if x is not None and x.dtype in (torch.float16, torch.bfloat16):
        return x.float()
    return x


def clip_loss_chunked(
    a: Tensor,
    b: Tensor,
    *,
    chunk_size: int,
    temperature: float = 0.05,
    logit_scale: Tensor | None = None,
    extra_a: Tensor | None = None,
    extra_b: Tensor | None = None,
) -> Tensor:
    """:func:`~gentleclip.losses.functional.clip_loss` computed in ``chunk_size``-row chunks.

    Each direction's cross-entropy is ``mean_i (lse_i - scale * a_i . b_i)`` with the
    log-sum-exp over a row chunk of the logits at a time. Half-precision inputs are upcast
    to float32 and autocast is disabled inside.
    """
    chunk = check_chunk_size(chunk_size)
    if chunk is None:
        raise InputError("chunk_size must be a positive integer, got None")
    scale = LF._scale_from(temperature, logit_scale)
    LF._check_matrix(a, "a")
    LF._check_matrix(b, "b")
    LF._check_same_shape(a, b, "a and b")
    cols_b = LF._with_extra(b, extra_b, "extra_b")
    cols_a = LF._with_extra(a, extra_a, "extra_a")
    a, b, cols_a, cols_b = (_as_float(x) for x in (a, b, cols_a, cols_b))
    with torch.autocast(device_type=a.device.type, enabled=False):
        if isinstance(scale, Tensor):
            scale_t = scale.to(a.dtype).reshape(())
        else:
            scale_t = torch.tensor(scale, dtype=a.dtype, device=a.device)
        positive = (a * b).sum(dim=1) * scale_t
        lse_ab = _RowLogSumExp.apply(a, cols_b, scale_t, chunk)
        lse_ba = _RowLogSumExp.apply(b, cols_a, scale_t, chunk)
        return 0.5 * ((lse_ab - positive).mean() + (lse_ba - positive).mean())
