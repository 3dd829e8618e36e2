"""Feature-space augmentation producing self-supervised views of tabular/embedding inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

from gentleclip.errors import InputError


class FeatureAugment(nn.Module):
    """Gaussian noise plus random feature masking in training mode; identity in eval mode.

    Meant for standardised features: ``x + noise_std * eps`` with ``eps ~ N(0, 1)``, then each
    entry is zeroed independently with probability ``mask_prob`` (no rescaling: masking to 0
    means "feature at its mean" after standardisation). Randomness comes from torch's global
    RNG, so ``torch.manual_seed`` makes views reproducible.
    """

    def __init__(self, *, noise_std: float = 0.1, mask_prob: float = 0.1) -> None:
        super().__init__()
        if not _is_number(noise_std) or noise_std < 0.0:
            raise InputError(f"augment noise_std must be a finite number >= 0, got {noise_std!r}")
        if not _is_number(mask_prob) or not 0.0 <= mask_prob < 1.0:
            raise InputError(f"augment mask_prob must be in [0, 1), got {mask_prob!r}")
        self.noise_std = float(noise_std)
        self.mask_prob = float(mask_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return an augmented copy of ``x`` in training mode, ``x`` itself in eval mode."""
        if not self.training:
            return x
        if self.noise_std > 0.0:
            x = x + self.noise_std * torch.randn_like(x)
        if self.mask_prob > 0.0:
            keep = torch.rand_like(x) >= self.mask_prob
            x = x * keep
        return x

    def extra_repr(self) -> str:
        """Show the settings in ``print(module)``."""
        return f"noise_std={self.noise_std}, mask_prob={self.mask_prob}"


def _is_number(value: object) -> bool:
    """True for a finite int/float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
