"""The ``identity`` encoder: features pass through unchanged (``output_dim == input_dim``)."""

from __future__ import annotations

import torch
from torch import nn

from gentleclip.models.encoders.registry import register_encoder


class IdentityEncoder(nn.Module):
    """Return the input unchanged; the projection head does all the learning."""

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = input_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` as given, shape ``(N, input_dim)``."""
        return x


@register_encoder("identity")
def create_identity(input_dim: int) -> IdentityEncoder:
    """Factory for :class:`IdentityEncoder`."""
    return IdentityEncoder(input_dim)
