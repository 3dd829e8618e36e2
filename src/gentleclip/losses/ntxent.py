"""SimCLR NT-Xent loss module (Chen et al. 2020), the self-supervised term of Gentle-CLIP."""

from __future__ import annotations

from torch import Tensor, nn

from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import _check_positive, ntxent_loss

__all__ = ["NTXentLoss"]


class NTXentLoss(nn.Module):
    """NT-Xent between two views ``z1``, ``z2`` (N, d) of the same N items.

    ``z = normalize([z1; z2])``, ``sim = z z^T / temperature``; anchor i's positive is the
    other view of item i, the denominator covers the 2N - 1 other rows (self excluded), and the
    loss is the mean cross-entropy over all 2N anchors. Requires N >= 2 (after gathering).

    With ``gather_distributed`` both views are gathered across ranks first (in the same rank
    order, so pairs stay aligned) and every rank computes the global loss.

    References: Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
    Representations" (SimCLR); Gentle-CLIP / Set-CLIP, arXiv 2406.05766.

    Example:
        >>> import torch
        >>> loss_fn = NTXentLoss(temperature=0.1)
        >>> z = torch.randn(4, 8)
        >>> float(loss_fn(z, z + 0.01 * torch.randn(4, 8))) > 0.0
        True
    """

    def __init__(self, *, temperature: float = 0.05, gather_distributed: bool = False) -> None:
        super().__init__()
        self.temperature = _check_positive(temperature, "temperature")
        self.gather_distributed = bool(gather_distributed)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """NT-Xent loss of the paired views ``z1``, ``z2`` (N, d)."""
        if self.gather_distributed:
            z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
        return ntxent_loss(z1, z2, temperature=self.temperature)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"
