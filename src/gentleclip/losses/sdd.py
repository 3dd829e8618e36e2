"""Semantic density distribution (SDD) loss module (Gentle-CLIP, arXiv 2406.05766)."""

from __future__ import annotations

from torch import Tensor, nn

from gentleclip.losses.chunked import check_chunk_size
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import sdd_loss, validate_sdd_options

__all__ = ["SDDLoss"]


class SDDLoss(nn.Module):
    """SDD divergence between two sets of embeddings ``a`` (n, d) and ``b`` (m, d).

    For a reference set ``S``: ``s_S = sum_k var(S[:, k])`` (unbiased variance) and
    ``rho_S(x) = mean_{t in S} exp(-||x - t||^2 / (4 h^2 s_S))`` with ``h = bandwidth``;
    ``leave_one_out`` drops ``t = x`` for densities of a set's own rows. With
    ``p_i = rho_A(a_i)``, ``q_i = rho_B(a_i)``, ``u_j = rho_B(b_j)``, ``v_j = rho_A(b_j)``
    (each divided by its own sum when ``normalize``)::

        D = sum_i (p_i - q_i)(log p_i - log q_i) + sum_j (u_j - v_j)(log u_j - log v_j)

    ``spread="none"`` gives ``D``; ``"range"`` / ``"variance"`` give ``D * (1/r_A + 1/r_B)``
    with ``r_S = sum_k (max_k S - min_k S)^2`` or ``r_S = s_S``. Each set needs >= 2 rows.

    With ``gather_distributed`` both sets are gathered across ranks first, so every rank
    computes the loss of the global sets (call it on every rank). ``chunk_size`` (None: full
    matrices) computes the loss in row chunks with ``O((n + m) * chunk_size)`` memory
    (:mod:`gentleclip.losses.chunked`).

    Reference: Gentle-CLIP / Set-CLIP, arXiv 2406.05766 (semantic density distribution loss).

    Example:
        >>> import torch
        >>> loss_fn = SDDLoss(bandwidth=0.5, spread="range")
        >>> float(loss_fn(torch.randn(8, 4), torch.randn(6, 4) + 2.0)) > 0.0
        True
    """

    def __init__(
        self,
        *,
        bandwidth: float = 0.5,
        leave_one_out: bool = False,
        spread: str = "range",
        normalize: bool = False,
        gather_distributed: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.options = validate_sdd_options(
            bandwidth=bandwidth, leave_one_out=leave_one_out, spread=spread, normalize=normalize
        )
        self.gather_distributed = bool(gather_distributed)
        self.chunk_size = check_chunk_size(chunk_size)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """SDD loss between ``a`` (n, d) and ``b`` (m, d)."""
        if self.gather_distributed:
            a, b = gather_with_grad(a), gather_with_grad(b)
        return sdd_loss(a, b, **self.options, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{opts}, gather_distributed={self.gather_distributed}, chunk_size={self.chunk_size}"
