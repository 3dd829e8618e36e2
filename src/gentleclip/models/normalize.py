"""Per-feature standardisation with statistics stored as buffers (saved in the state dict)."""

from __future__ import annotations

import torch
from torch import nn

from gentleclip.errors import InputError
from gentleclip.losses.functional import all_finite

_MIN_STD = 1e-6


class FeatureNorm(nn.Module):
    """Standardise features: ``(x - mean) / std`` with ``mean``/``std`` fitted on training rows.

    Before :meth:`fit` the buffers hold ``mean = 0`` and ``std = 1`` (identity). Columns whose
    standard deviation is below ``1e-6`` (constant columns) get ``std = 1``, as in
    scikit-learn's ``StandardScaler``, so they are centred but never blown up on new data.
    """

    mean: torch.Tensor
    std: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise InputError(f"FeatureNorm dim must be a positive int, got {dim!r}")
        self.dim = dim
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> FeatureNorm:
        """Set ``mean``/``std`` from rows ``x`` of shape ``(N, dim)`` (population std)."""
        self._check(x, "fit")
        if x.shape[0] == 0:
            raise InputError("FeatureNorm.fit got 0 rows; need at least one")
        if not all_finite(x):
            raise InputError("FeatureNorm.fit got NaN or infinite values")
        x64 = x.detach().to(torch.float64)
        mean = x64.mean(dim=0)
        std = x64.std(dim=0, unbiased=False)
        std = torch.where(std < _MIN_STD, torch.ones_like(std), std)
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(std.to(self.std))
        self.fitted.fill_(True)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(x - mean) / std`` for ``x`` of shape ``(N, dim)``.

        Computed as ``x / std - mean / std`` so that values near the float32 limit do not
        overflow in the subtraction.
        """
        self._check(x, "forward")
        return x / self.std - self.mean / self.std

    def _check(self, x: torch.Tensor, where: str) -> None:
        """Raise :class:`InputError` unless ``x`` is a floating ``(N, dim)`` tensor."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise InputError(f"FeatureNorm.{where} expects a floating-point tensor")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InputError(
                f"FeatureNorm.{where} expects shape (N, {self.dim}), got {tuple(x.shape)}"
            )
