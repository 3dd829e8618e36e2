"""Loss terms of Gentle-CLIP: CLIP InfoNCE, SDD, MK-MMD, NT-Xent, neighbourhood KL and
bag-level InfoNCE.

Modules (``nn.Module``) live next to their functional twins in
:mod:`gentleclip.losses.functional`; :func:`~gentleclip.losses.distributed.gather_with_grad`
gathers embeddings across data-parallel ranks with exact gradients.
"""

from __future__ import annotations

from gentleclip.losses.bag_clip import BagCLIPLoss
from gentleclip.losses.clip import CLIPLoss
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import (
    bag_clip_loss,
    clip_loss,
    mk_mmd,
    neighbourhood_loss,
    ntxent_loss,
    pairwise_sq_dists,
    sdd_and_mmd,
    sdd_loss,
)
from gentleclip.losses.mmd import MKMMDLoss
from gentleclip.losses.neighbourhood import NeighbourhoodLoss
from gentleclip.losses.ntxent import NTXentLoss
from gentleclip.losses.sdd import SDDLoss

__all__ = [
    "BagCLIPLoss",
    "CLIPLoss",
    "MKMMDLoss",
    "NTXentLoss",
    "NeighbourhoodLoss",
    "SDDLoss",
    "bag_clip_loss",
    "clip_loss",
    "gather_with_grad",
    "mk_mmd",
    "neighbourhood_loss",
    "ntxent_loss",
    "pairwise_sq_dists",
    "sdd_and_mmd",
    "sdd_loss",
]
