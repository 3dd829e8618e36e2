"""CLIP symmetric InfoNCE loss module (Radford et al. 2021), as used by Gentle-CLIP."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gentleclip.errors import InputError
from gentleclip.losses.chunked import check_chunk_size
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import _check_positive, clip_loss

__all__ = ["CLIPLoss"]


class CLIPLoss(nn.Module):
    """Symmetric InfoNCE on matched pairs, optionally with unpaired rows as extra negatives.

    Inputs ``a``, ``b`` (P, d) are L2-normalised and row i of ``a`` matches row i of ``b``.
    With ``scale = 1 / temperature`` (or, with ``learnable_scale``,
    ``scale = exp(log_logit_scale).clamp(max=max_scale)``, ignoring ``temperature``)::

        L = 0.5 * (CE(a @ [b; extra_b]^T * scale, i) + CE(b @ [a; extra_a]^T * scale, i))

    ``extra_a`` (Ua, d) / ``extra_b`` (Ub, d) are used only when ``extra_negatives`` is True
    (otherwise they are ignored), as in the paper's code, which appends unpaired rows as
    negatives. ``P == 0`` raises InputError.

    With ``gather_distributed`` all inputs are gathered across ranks first (see
    :func:`gentleclip.losses.distributed.gather_with_grad`), so every rank computes the loss
    of the global batch; call the module on every rank, passing (0, d) tensors where a rank
    has no rows, and pass extras on all ranks or on none. ``chunk_size`` (None: full logit
    matrices) computes the loss in row chunks with ``O((P + U) * chunk_size)`` memory
    (:mod:`gentleclip.losses.chunked`).

    References: Radford et al. 2021, "Learning Transferable Visual Models From Natural
    Language Supervision"; Gentle-CLIP / Set-CLIP, arXiv 2406.05766.

    Example:
        >>> loss_fn = CLIPLoss(learnable_scale=True)
        >>> a = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
        >>> loss_fn(a, a).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        temperature: float = 0.05,
        learnable_scale: bool = False,
        init_scale: float = 1 / 0.07,
        max_scale: float = 100.0,
        extra_negatives: bool = False,
        gather_distributed: bool = False,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        self.temperature = _check_positive(temperature, "temperature")
        self.init_scale = _check_positive(init_scale, "init_scale")
        self.max_scale = _check_positive(max_scale, "max_scale")
        if self.init_scale > self.max_scale:
            raise InputError(f"init_scale {init_scale} exceeds max_scale {max_scale}")
        self.learnable_scale = bool(learnable_scale)
        self.extra_negatives = bool(extra_negatives)
        self.gather_distributed = bool(gather_distributed)
        self.chunk_size = check_chunk_size(chunk_size)
        self.log_logit_scale: nn.Parameter | None = None
        if self.learnable_scale:
            self.log_logit_scale = nn.Parameter(torch.tensor(math.log(self.init_scale)))

    def logit_scale(self) -> Tensor | None:
        """The clamped learnable multiplier, or None when the fixed temperature is used."""
        if self.log_logit_scale is None:
            return None
        return self.log_logit_scale.exp().clamp(max=self.max_scale)

    def _gather(self, x: Tensor | None) -> Tensor | None:
        """Gather ``x`` across ranks when requested."""
        if x is None or not self.gather_distributed:
            return x
        return gather_with_grad(x)

    def forward(
        self,
        a: Tensor,
        b: Tensor,
        extra_a: Tensor | None = None,
        extra_b: Tensor | None = None,
    ) -> Tensor:
        """Loss for pairs ``a``, ``b`` (P, d) and optional extra negatives (U, d)."""
        if not self.extra_negatives:
            extra_a = extra_b = None
        scale = self.logit_scale()
        if scale is not None:
            scale = scale.to(a.dtype)
        return clip_loss(
            self._gather(a),
            self._gather(b),
            temperature=self.temperature,
            logit_scale=scale,
            extra_a=self._gather(extra_a),
            extra_b=self._gather(extra_b),
            chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        scale = f"learnable (max {self.max_scale})" if self.learnable_scale else "fixed"
        return (
            f"temperature={self.temperature}, scale={scale}, "
            f"extra_negatives={self.extra_negatives}, "
            f"gather_distributed={self.gather_distributed}, chunk_size={self.chunk_size}"
        )
