"""Projection head mapping encoder features into the shared embedding space."""

from __future__ import annotations

import math

import torch
from torch import nn

from gentleclip.errors import InputError


class ProjectionHead(nn.Module):
    """Residual projection head (the Gentle-CLIP / OpenAI-CLIP-tutorial default).

    ``p = projection(x)``; ``h = dropout(fc(gelu(p)))``; ``out = layer_norm(h + p)``.
    The output is not L2-normalised; the two-tower model does that.
    """

    def __init__(self, in_dim: int, out_dim: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        for label, value in (("in_dim", in_dim), ("out_dim", out_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"ProjectionHead {label} must be a positive int, got {value!r}")
        if not (isinstance(dropout, int | float) and math.isfinite(dropout)):
            raise InputError(f"ProjectionHead dropout must be a number, got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"ProjectionHead dropout must be in [0, 1), got {dropout!r}")
        self.projection = nn.Linear(in_dim, out_dim)
        self.gelu = nn.GELU()
        self.fc = nn.Linear(out_dim, out_dim)
        self.dropout = nn.Dropout(float(dropout))
        self.layer_norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_dim)`` to ``(N, out_dim)``."""
        projected = self.projection(x)
        h = self.dropout(self.fc(self.gelu(projected)))
        return self.layer_norm(h + projected)
