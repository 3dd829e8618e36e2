"""The ``mlp`` encoder: a stack of ``Linear -> activation -> Dropout`` blocks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gentleclip.errors import InputError
from gentleclip.models.encoders.registry import register_encoder

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


class MLPEncoder(nn.Module):
    """``Linear -> activation -> Dropout`` per hidden width; ``output_dim`` is the last width."""

    def __init__(
        self, input_dim: int, hidden_dims: Sequence[int], dropout: float, activation: str
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = hidden
        self.layers = nn.Sequential(*layers)
        self.input_dim = input_dim
        self.output_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, input_dim)`` to ``(N, output_dim)``."""
        return self.layers(x)


@register_encoder("mlp")
def create_mlp(
    input_dim: int,
    *,
    hidden_dims: Sequence[int] = (256,),
    dropout: float = 0.1,
    activation: str = "gelu",
) -> MLPEncoder:
    """Factory for :class:`MLPEncoder`; raises :class:`InputError` for invalid options."""
    dims = _check_hidden_dims(hidden_dims)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float):
        raise InputError(f"mlp dropout must be a number in [0, 1), got {dropout!r}")
    if not (math.isfinite(dropout) and 0.0 <= dropout < 1.0):
        raise InputError(f"mlp dropout must be in [0, 1), got {dropout!r}")
    if activation not in _ACTIVATIONS:
        raise InputError(
            f"unknown mlp activation {activation!r}; available: {', '.join(sorted(_ACTIVATIONS))}"
        )
    return MLPEncoder(input_dim, dims, float(dropout), activation)


def _check_hidden_dims(hidden_dims: Sequence[int]) -> tuple[int, ...]:
    """Return ``hidden_dims`` as a tuple of positive ints or raise :class:`InputError`."""
    if isinstance(hidden_dims, str | bytes) or not isinstance(hidden_dims, Sequence):
        raise InputError(f"mlp hidden_dims must be a list of positive ints, got {hidden_dims!r}")
    dims = tuple(hidden_dims)
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in dims):
        raise InputError(f"mlp hidden_dims must be a non-empty list of positive ints, got {dims!r}")
    return dims
