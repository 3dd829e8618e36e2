"""Bag-level InfoNCE: CLIP between each bag's mean A and mean B embedding."""

from __future__ import annotations

from torch import Tensor, nn

from gentleclip.losses.distributed import gather_values, gather_with_grad
from gentleclip.losses.functional import _check_positive, bag_clip_loss, common_bag_ids

__all__ = ["BagCLIPLoss"]


class BagCLIPLoss(nn.Module):
    """Symmetric InfoNCE over bags, on mean embeddings.

    For unpaired rows in bags (a bag's A rows and B rows describe the same objects, order
    unknown), with ``A_k`` the A rows of bag ``k`` and the ``K`` bags present on both sides::

        m^A_k = normalize(mean_{i in A_k} a_i),   m^B_k = normalize(mean_{j in B_k} b_j)
        L = 0.5 * (CE(m^A m^B^T / temperature, k) + CE(m^B m^A^T / temperature, k))

    Inputs: ``a`` (N_a, d), ``b`` (N_b, d) L2-normalised embeddings; ``bags_a`` (N_a,),
    ``bags_b`` (N_b,) integer bag ids. Means are taken after the towers, so each tower still
    sees single items, as at test time (pairs of mean *features* train the towers on inputs
    they never see again). Needs at least 2 common bags (:meth:`usable`); fewer raise
    InputError.

    With ``gather_distributed`` rows and ids are gathered across ranks first, so a bag whose
    rows are split over ranks still has one mean and every rank computes the loss of the
    global step (call it on every rank).

    References: Gentle-CLIP / Set-CLIP, arXiv 2406.05766 (learning from bags); Radford et
    al. 2021 (InfoNCE); multiple-instance learning's mean pooling (Ilse et al. 2018).

    Example:
        >>> import torch
        >>> z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
        >>> ids = torch.tensor([0, 0, 1, 1, 2, 2])
        >>> BagCLIPLoss(temperature=0.1)(z, z, ids, ids).shape
        torch.Size([])
    """

    def __init__(self, *, temperature: float = 0.05, gather_distributed: bool = False) -> None:
        super().__init__()
        self.temperature = _check_positive(temperature, "temperature")
        self.gather_distributed = bool(gather_distributed)

    def _ids(self, bags: Tensor) -> Tensor:
        return gather_values(bags) if self.gather_distributed else bags

    def usable(self, bags_a: Tensor, bags_b: Tensor) -> bool:
        """True when the (global) step holds at least 2 bags present on both sides."""
        return _enough_bags(self._ids(bags_a), self._ids(bags_b))

    def forward(self, a: Tensor, b: Tensor, bags_a: Tensor, bags_b: Tensor) -> Tensor:
        """The bag-level loss of rows ``a``, ``b`` with bag ids ``bags_a``, ``bags_b``."""
        return self._loss(a, b, self._ids(bags_a), self._ids(bags_b))

    def loss_if_usable(self, a: Tensor, b: Tensor, bags_a: Tensor, bags_b: Tensor) -> Tensor | None:
        """:meth:`forward`'s loss, or None below 2 common bags (:meth:`usable`); the ids are
        gathered once for both (call it on every rank)."""
        ids_a, ids_b = self._ids(bags_a), self._ids(bags_b)
        return self._loss(a, b, ids_a, ids_b) if _enough_bags(ids_a, ids_b) else None

    def _loss(self, a: Tensor, b: Tensor, ids_a: Tensor, ids_b: Tensor) -> Tensor:
        if self.gather_distributed:
            a, b = gather_with_grad(a), gather_with_grad(b)
        return bag_clip_loss(a, b, ids_a, ids_b, temperature=self.temperature)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"


def _enough_bags(ids_a: Tensor, ids_b: Tensor) -> bool:
    """At least 2 bag ids common to both sides: the term's negatives exist."""
    return common_bag_ids(ids_a, ids_b).numel() >= 2
