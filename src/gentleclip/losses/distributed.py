"""Differentiable all-gather of embeddings across data-parallel ranks.

Every rank gathers the global batch and computes the identical global loss. The backward of
the gather sums the gradient arriving from all ranks into the local slice, so local
embedding gradients are ``W * dL/dz_local``; DDP then averages parameter gradients over the
``W`` ranks, which yields exactly the single-process gradient of the whole global batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_values", "gather_with_grad", "is_distributed"]


def is_distributed() -> bool:
    """True when torch.distributed is available, initialised and has more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _gather_row_counts(x: Tensor) -> list[int]:
    """Row count of ``x`` on every rank, in rank order."""
    local = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    counts = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, local)
    return [int(c.item()) for c in counts]


def _padded(x: Tensor, rows: int) -> Tensor:
    """``x`` with zero rows appended up to ``rows`` rows."""
    if x.shape[0] == rows:
        return x
    return torch.cat([x, x.new_zeros((rows - x.shape[0], *x.shape[1:]))], dim=0)


def _all_gather_autograd(x: Tensor) -> tuple[Tensor, ...]:
    """``torch.distributed.nn.functional.all_gather`` without its deprecation warning."""
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return tuple(all_gather(x))


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (rows, ...) over all ranks in rank order, keeping gradients.

    Ranks may hold different numbers of rows: sizes are exchanged first, every rank pads to
    the largest count, gathers with autograd and strips the padding. The backward sums the
    gradients of all ranks into the local slice. Without an initialised process group of
    world size > 1, ``x`` is returned unchanged.

    Example:
        >>> x = torch.ones(3, 2, requires_grad=True)
        >>> gather_with_grad(x) is x  # single process
        True
    """
    return _gather_rows(x, _all_gather_autograd)


def gather_values(x: Tensor) -> Tensor:
    """Concatenate ``x`` (rows, ...) over all ranks in rank order, without gradients.

    For tensors autograd does not need (integer bag ids): any dtype, ranks may hold different
    numbers of rows. Without an initialised process group of world size > 1, ``x`` is
    returned unchanged.
    """
    return _gather_rows(x, _all_gather_plain)


def _all_gather_plain(x: Tensor) -> tuple[Tensor, ...]:
    """``torch.distributed.all_gather`` of ``x`` (same shape on every rank), no autograd."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return tuple(parts)


def _gather_rows(x: Tensor, gather: Callable[[Tensor], tuple[Tensor, ...]]) -> Tensor:
    """``x``'s rows from every rank in rank order: padded to the largest count, gathered by
    ``gather``, stripped. ``x`` itself outside a process group of world size > 1."""
    if not is_distributed():
        return x
    counts = _gather_row_counts(x)
    largest = max(counts)
    if largest == 0:
        return x
    parts = gather(_padded(x, largest))
    return torch.cat([part[:n] for part, n in zip(parts, counts, strict=True)], dim=0)
