"""Neighbourhood preservation: each modality keeps its input-space neighbourhoods."""

from __future__ import annotations

from torch import Tensor, nn

from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import _check_positive, neighbourhood_loss

__all__ = ["NeighbourhoodLoss"]


class NeighbourhoodLoss(nn.Module):
    """KL between the neighbour distributions of N rows in input space and in the shared space.

    For input features ``x`` (N, d_x, a fixed target) and embeddings ``z`` (N, D):
    ``P_ij = softmax_{j != i}(-||x_i - x_j||^2 / (bandwidth * m))`` with ``m`` the lower median
    of the off-diagonal squared input distances, ``Q_ij = softmax_{j != i}(<z_i, z_j> /
    temperature)``, and the loss is ``(1 / N) sum_i KL(P_i || Q_i)``. See
    :func:`gentleclip.losses.functional.neighbourhood_loss`.

    Unlike SDD and MMD it never compares the two modalities: it keeps each tower from
    scrambling the structure of the rows no pair anchors, which is what unpaired, disjoint
    data can offer. With ``gather_distributed`` both tensors are gathered across ranks first
    (gradients flow back to each rank's own ``z`` rows) and every rank computes the global
    loss. Requires N >= 2 after gathering.

    References: Hinton & Roweis 2002, "Stochastic Neighbor Embedding"; van der Maaten &
    Hinton 2008 (t-SNE).

    Example:
        >>> import torch
        >>> loss_fn = NeighbourhoodLoss(temperature=0.1, bandwidth=0.05)
        >>> x = torch.randn(8, 5)
        >>> float(loss_fn(x, torch.nn.functional.normalize(x[:, :3], dim=1))) >= 0.0
        True
    """

    def __init__(
        self, *, temperature: float = 0.1, bandwidth: float = 0.05, gather_distributed: bool = False
    ) -> None:
        super().__init__()
        self.temperature = _check_positive(temperature, "temperature")
        self.bandwidth = _check_positive(bandwidth, "bandwidth")
        self.gather_distributed = bool(gather_distributed)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        """Neighbourhood KL of rows with inputs ``x`` (N, d_x) and embeddings ``z`` (N, D)."""
        if self.gather_distributed:
            x, z = gather_with_grad(x.detach()), gather_with_grad(z)
        return neighbourhood_loss(x, z, temperature=self.temperature, bandwidth=self.bandwidth)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        return (
            f"temperature={self.temperature}, bandwidth={self.bandwidth}, "
            f"gather_distributed={self.gather_distributed}"
        )
