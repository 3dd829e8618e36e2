"""A linear layer for mostly-zero inputs: fingerprints, bags of words, k-mer counts.

A tower whose first layer reads raw features that are mostly zero (molecules' 2,048-bit
fingerprints have about 1% of their bits set) spends most of that layer's products on zeros.
:class:`SparseInputLinear` computes the same map, ``y = x W^T + b``, from the non-zero entries
alone: the forward pass sums, for each row, the weight rows its entries pick, and the weight
gradient sums, for each weight row, the output gradients of the rows whose entry picks it;
both are one ``embedding_bag`` with the entries' values as weights (the entries sorted by row,
then by column). The numbers are those of ``nn.Linear`` up to the order of the
floating-point sums (the tests hold both to a loop written from the formula).

The weight is kept as ``weight_t`` of shape ``(in, out)``, so both passes read and write whole
contiguous rows; the state dict holds it as ``weight`` of shape ``(out, in)``, exactly as
``nn.Linear`` does, so a model saved with sparse inputs loads into dense layers and back.
Inputs denser than ``max_density`` (an augmented view with noise, a dense feature set) take the
dense product instead, with the same weight.

Example:
    >>> import torch
    >>> dense = torch.nn.Linear(6, 3)
    >>> sparse = SparseInputLinear.from_linear(dense)
    >>> x = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 2.0]])
    >>> bool(torch.allclose(sparse(x), dense(x)))
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gentleclip.errors import InputError

MAX_DENSITY = 0.05
"""Default share of non-zero entries up to which the sparse products are used: at molecules'
shapes (2,048 -> 512, 52-96 rows, 1% set) forward and weight gradient take 0.8-1.1 ms against
the dense 1.8-2.8 ms on an Intel Xeon, 0.7 against 3.7 on an AMD EPYC
(``benchmarks/sparse_first_layer.py``), and the gap closes as the share grows."""


class _SparseLinear(torch.autograd.Function):
    """``x @ weight_t + bias`` from the non-zero entries of ``x``; gradients for all three."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        row, col = x.nonzero(as_tuple=True)  # row-major: sorted by row
        val = x[row, col].to(weight_t.dtype)
        out = F.embedding_bag(
            col, weight_t, _offsets(row, x.shape[0]), mode="sum", per_sample_weights=val
        )
        ctx.save_for_backward(row, col, val, weight_t)
        ctx.has_bias = bias is not None
        return out if bias is None else out + bias

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        row, col, val, weight_t = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad @ weight_t.t()
        if ctx.needs_input_grad[1]:
            # row i of the weight gradient sums the output gradients of the rows whose input
            # has entry i set: the same bag sum as the forward, with the roles swapped
            by_col = torch.argsort(col, stable=True)
            grad_w = F.embedding_bag(
                row[by_col],
                grad.contiguous(),
                _offsets(col, weight_t.shape[0]),
                mode="sum",
                per_sample_weights=val[by_col],
            )
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b


def _offsets(bag: torch.Tensor, bags: int) -> torch.Tensor:
    """Start of each of ``bags`` bags in entries sorted by ``bag`` (an empty bag starts where
    the next one does)."""
    counts = torch.bincount(bag, minlength=bags)
    return torch.cumsum(counts, 0) - counts


def sparse_linear(
    x: torch.Tensor,
    weight_t: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    max_density: float = MAX_DENSITY,
) -> torch.Tensor:
    """``x @ weight_t + bias`` for ``x`` ``(N, in)``, ``weight_t`` ``(in, out)``: the functional
    twin of :class:`SparseInputLinear`.

    Uses the non-zero entries of ``x`` when at most ``max_density`` of them are non-zero, the
    dense product otherwise; both give the same numbers up to summation order. Raises
    :class:`InputError` for inputs that are not 2-D with ``in`` columns.
    """
    if x.dim() != 2 or x.shape[1] != weight_t.shape[0]:
        raise InputError(
            f"sparse_linear expects inputs (N, {weight_t.shape[0]}), got {tuple(x.shape)}"
        )
    # counted first: a dense input (an augmented view with noise) falls back at a count's cost
    if x.numel() and int(torch.count_nonzero(x)) / x.numel() <= max_density:
        return _SparseLinear.apply(x, weight_t, bias)
    return F.linear(x, weight_t.t(), bias)


class SparseInputLinear(nn.Module):
    """``nn.Linear`` computed from the non-zero entries of its input (see the module doc).

    Parameters ``weight_t`` ``(in_features, out_features)`` and ``bias`` ``(out_features,)``;
    ``weight`` is the ``(out, in)`` view ``nn.Linear`` has, and the name its state dict uses.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        max_density: float = MAX_DENSITY,
    ) -> None:
        super().__init__()
        if not (isinstance(max_density, int | float) and math.isfinite(max_density)):
            raise InputError(f"max_density must be a number in [0, 1], got {max_density!r}")
        if not 0.0 <= max_density <= 1.0:
            raise InputError(f"max_density must be in [0, 1], got {max_density!r}")
        dense = nn.Linear(in_features, out_features, bias=bias)
        self.in_features, self.out_features = in_features, out_features
        self.max_density = float(max_density)
        self.weight_t = nn.Parameter(dense.weight.detach().t().contiguous())
        self.bias = dense.bias

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, *, max_density: float = MAX_DENSITY
    ) -> SparseInputLinear:
        """The same map as ``linear`` (its weight copied, its bias shared), computed sparsely.

        Draws no random numbers: the layer's values are ``linear``'s.
        """
        with torch.random.fork_rng(devices=[]):
            layer = cls(
                linear.in_features,
                linear.out_features,
                bias=linear.bias is not None,
                max_density=max_density,
            )
        with torch.no_grad():
            layer.weight_t.copy_(linear.weight.t())
        layer.weight_t.requires_grad_(linear.weight.requires_grad)
        layer.bias = linear.bias
        return layer.to(linear.weight.device)

    @property
    def weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` weight, as ``nn.Linear`` holds it (a view)."""
        return self.weight_t.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_features)`` to ``(N, out_features)``."""
        return sparse_linear(x, self.weight_t, self.bias, max_density=self.max_density)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, max_density={self.max_density}"
        )

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        for name, tensor in (("weight", self.weight), ("bias", self.bias)):
            if tensor is not None:
                destination[prefix + name] = tensor if keep_vars else tensor.detach()

    def _load_from_state_dict(
        self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        if prefix + "weight" in state_dict:
            state_dict[prefix + "weight_t"] = state_dict.pop(prefix + "weight").t()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
