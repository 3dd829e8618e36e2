"""Soft attention pooling of a padded set/sequence of vectors into one vector."""

from __future__ import annotations

import torch
from torch import nn

from gentleclip.errors import InputError


class AttentionPooling(nn.Module):
    """Pool ``(B, L, D)`` with a validity mask ``(B, L)`` into ``(B, D)``.

    Scores are ``w^T tanh(W x)`` when ``hidden`` is given (Ilse et al., 2018, attention-based
    MIL pooling), else a single linear map ``w^T x + c``. Padded positions get score ``-inf``
    and are zeroed before scoring, so their values never matter; weights are a softmax over
    the valid positions, and the result is the weighted sum of the valid vectors. A row with
    no valid position raises :class:`InputError`.
    """

    def __init__(self, dim: int, *, hidden: int | None = None) -> None:
        super().__init__()
        for label, value in (("dim", dim), ("hidden", hidden)):
            if value is None and label == "hidden":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"AttentionPooling {label} must be a positive int, got {value!r}")
        self.dim = dim
        if hidden is None:
            self.score = nn.Sequential(nn.Linear(dim, 1))
        else:
            self.score = nn.Sequential(
                nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False)
            )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return the attention-weighted sum over ``L``; ``mask`` True marks valid tokens."""
        mask = self._check(x, mask)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        scores = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return torch.einsum("bl,bld->bd", weights, x)

    def _check(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Validate shapes and return a boolean mask (all True when ``mask`` is None)."""
        if x.ndim != 3 or x.shape[2] != self.dim:
            raise InputError(
                f"AttentionPooling expects x of shape (B, L, {self.dim}), got {tuple(x.shape)}"
            )
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if mask.dtype != torch.bool or tuple(mask.shape) != tuple(x.shape[:2]):
            raise InputError(
                f"AttentionPooling mask must be bool of shape {tuple(x.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if x.shape[1] == 0 or not bool(mask.any(dim=1).all()):
            raise InputError("AttentionPooling got a row with no valid (unmasked) position")
        return mask
