"""Multi-kernel MMD loss module (Gretton et al. 2012; Long et al. 2015)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from gentleclip.losses.chunked import check_chunk_size
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import DEFAULT_MULTIPLIERS, mk_mmd, validate_mmd_options

__all__ = ["MKMMDLoss"]


class MKMMDLoss(nn.Module):
    """Squared multi-kernel MMD between ``a`` (n, d) and ``b`` (m, d).

    Kernel ``k(x, y) = mean_{s} exp(-||x - y||^2 / s)`` over ``s`` in ``bandwidths``, or, when
    ``bandwidths`` is None, ``s = t * median`` for ``t`` in ``multipliers`` where ``median`` is
    the lower median (``torch.median``) of the off-diagonal squared distances of the pooled set
    ``[a; b]`` (detached)::

        MMD^2 = mean k(A, A) + mean k(B, B) - 2 mean k(A, B)

    ``unbiased`` drops the diagonals from the within-set means (>= 2 rows per side).
    With ``gather_distributed`` both sets are gathered across ranks first, so the median and
    all means are those of the global sets (call it on every rank). ``chunk_size`` (None: full
    matrices) computes the loss in row chunks with ``O((n + m) * chunk_size)`` memory; the
    median heuristic then comes from a fixed seeded subsample of at most 4096 rows per side
    (:mod:`gentleclip.losses.chunked`).

    References: Gretton et al. 2012, "A Kernel Two-Sample Test" (JMLR); Long et al. 2015,
    "Learning Transferable Features with Deep Adaptation Networks" (ICML);
    Gentle-CLIP / Set-CLIP, arXiv 2406.05766.

    Example:
        >>> import torch
        >>> loss_fn = MKMMDLoss(multipliers=(0.5, 1.0, 2.0))
        >>> x = torch.randn(8, 4)
        >>> float(loss_fn(x, x))
        0.0
    """

    def __init__(
        self,
        *,
        bandwidths: Sequence[float] | None = None,
        multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
        unbiased: bool = False,
        gather_distributed: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.options = validate_mmd_options(
            bandwidths=bandwidths, multipliers=multipliers, unbiased=unbiased
        )
        self.gather_distributed = bool(gather_distributed)
        self.chunk_size = check_chunk_size(chunk_size)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """MK-MMD^2 between ``a`` (n, d) and ``b`` (m, d)."""
        if self.gather_distributed:
            a, b = gather_with_grad(a), gather_with_grad(b)
        return mk_mmd(a, b, **self.options, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{opts}, gather_distributed={self.gather_distributed}, chunk_size={self.chunk_size}"
