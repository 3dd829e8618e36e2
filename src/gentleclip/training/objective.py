"""The Gentle-CLIP objective: model outputs -> a dict of named loss terms plus ``loss``.

``loss = w_clip * CLIP(pair_a, pair_b) + w_sdd * SDD(all_a, all_b) + w_mmd * MMD(all_a, all_b)
+ w_ssl * (NTXent(view1_a, view2_a) + NTXent(view1_b, view2_b))
+ w_nbr * (Nbr(features_a, all_a) + Nbr(features_b, all_b)) + w_pseudo * Pseudo(...)
+ w_bag * BagCLIP(unpaired_a, unpaired_b, bags_a, bags_b)``

``BagCLIP`` is the bag-level InfoNCE (:mod:`gentleclip.losses.bag_clip`) on the step's
unpaired rows (``all_*`` after the pairs) and their bag ids: each bag's mean A embedding
against its mean B embedding (off unless ``w_bag > 0``; absent below 2 bags in the step).

``Nbr`` is the neighbourhood KL (:mod:`gentleclip.losses.neighbourhood`): each side's rows
keep the neighbours their input features give them (off unless ``w_nbr > 0``).

``Pseudo`` is S-CLIP's pseudo-label term (:mod:`gentleclip.losses.soft_targets`): the step's
unpaired A rows against soft targets over its paired B rows; only method ``sclip`` weights it.
With ``pseudo_extra_negatives`` (and ``w_pseudo > 0``) those unpaired A rows are also extra
negatives of CLIP's B -> A direction, as in S-CLIP's code; ``clip_extra_negatives`` adds both
sides' unpaired rows to both directions.

``all_a`` / ``all_b`` hold every A / B embedding of the step, paired and unpaired. SDD and MMD
share their pairwise distance matrices; with ``loss.chunk_size`` CLIP, SDD and MMD use the
memory-bounded row-chunked kernels (:mod:`gentleclip.losses.chunked`). A term whose weight
is zero is not computed; a term whose inputs are too small this step (no pairs, fewer than
two rows of a side) is left out of the sum and reported as absent.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gentleclip.losses import BagCLIPLoss, CLIPLoss, NeighbourhoodLoss, NTXentLoss, functional
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.soft_targets import PseudoLabelLoss
from gentleclip.training.config import LossConfig


def _global_rows(x: Tensor, distributed: bool) -> int:
    """Number of rows of ``x`` summed over all ranks (local count when not distributed)."""
    if not (
        distributed and torch.distributed.is_available() and torch.distributed.is_initialized()
    ):
        return x.shape[0]
    count = torch.tensor([x.shape[0]], device=x.device)
    torch.distributed.all_reduce(count)
    return int(count.item())


def _pseudo_negatives(config: LossConfig) -> bool:
    """S-CLIP's unpaired A rows as B -> A CLIP negatives: only where the pseudo-label term is
    weighted (method ``sclip``; the others train with ``w_pseudo = 0``)."""
    return config.pseudo_extra_negatives and config.w_pseudo > 0


def sdd_options(config: LossConfig) -> dict[str, Any]:
    """The ``sdd`` options of :func:`functional.sdd_and_mmd` that ``config`` sets."""
    return {
        "bandwidth": config.sdd_bandwidth,
        "leave_one_out": config.sdd_leave_one_out,
        "spread": config.sdd_spread,
        "normalize": config.sdd_normalize,
    }


def mmd_options(config: LossConfig) -> dict[str, Any]:
    """The ``mmd`` options of :func:`functional.sdd_and_mmd` that ``config`` sets."""
    return {
        "bandwidths": config.mmd_bandwidths,
        "multipliers": tuple(config.mmd_multipliers),
        "unbiased": config.mmd_unbiased,
    }


class GentleObjective(nn.Module):
    """Weighted sum of CLIP, SDD, MK-MMD, intra-modal NT-Xent and neighbourhood KL terms.

    Inputs (the keys of :class:`~gentleclip.models.TwoTower` outputs): ``pair_a``, ``pair_b``
    (P, D); ``all_a`` (Na, D), ``all_b`` (Nb, D) whose first P rows are the pairs; and,
    when ``w_ssl > 0``, ``view1_a``, ``view2_a``, ``view1_b``, ``view2_b``; when ``w_nbr > 0``,
    ``features_a``, ``features_b`` (the rows of ``all_*`` as the encoders received them);
    when ``w_bag > 0``, ``bags_a``, ``bags_b`` (bag ids of the rows of ``all_*`` after the
    pairs). Returns ``{"clip", "sdd", "mmd", "ssl_a", "ssl_b", "nbr_a", "nbr_b", "pseudo",
    "bag", "loss"}``
    (the terms computed).
    """

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.config = config
        gather = config.gather_distributed
        self.clip = CLIPLoss(
            temperature=config.clip_temperature,
            learnable_scale=config.learnable_scale,
            extra_negatives=config.clip_extra_negatives or _pseudo_negatives(config),
            gather_distributed=gather,
            chunk_size=config.chunk_size,
        )
        self.bag = BagCLIPLoss(temperature=config.bag_temperature, gather_distributed=gather)
        self.ntxent = NTXentLoss(temperature=config.ssl_temperature, gather_distributed=gather)
        self.neighbourhood = NeighbourhoodLoss(
            temperature=config.nbr_temperature,
            bandwidth=config.nbr_bandwidth,
            gather_distributed=gather,
        )
        self.pseudo = PseudoLabelLoss(
            temperature=config.clip_temperature,
            epsilon=config.pseudo_epsilon,
            iterations=config.pseudo_iterations,
            detach_targets=config.pseudo_detach_targets,
            epsilon_from_scale=config.pseudo_epsilon_from_scale,
            gather_distributed=gather,
        )

    def distribution_scale(self, step: int | None) -> float:
        """Multiplier of the SDD/MMD weights at optimizer step ``step`` (warm-up, then ramp)."""
        cfg = self.config
        if step is None or step >= cfg.dist_warmup_steps + cfg.dist_ramp_steps:
            return 1.0
        if step < cfg.dist_warmup_steps:
            return 0.0
        return (step - cfg.dist_warmup_steps + 1) / (cfg.dist_ramp_steps + 1)

    def forward(self, outputs: dict[str, Tensor], *, step: int | None = None) -> dict[str, Tensor]:
        cfg = self.config
        terms: dict[str, Tensor] = {}
        scale = self.distribution_scale(step)
        if cfg.w_clip > 0:
            terms.update(self._clip_term(outputs))
        if (cfg.w_sdd > 0 or cfg.w_mmd > 0) and scale > 0:
            terms.update(self._distribution_terms(outputs["all_a"], outputs["all_b"]))
        if cfg.w_ssl > 0:
            for side in ("a", "b"):
                v1, v2 = outputs[f"view1_{side}"], outputs[f"view2_{side}"]
                if _global_rows(v1, cfg.gather_distributed) >= 2:
                    terms[f"ssl_{side}"] = self.ntxent(v1, v2)
        if cfg.w_nbr > 0:
            terms.update(self._neighbourhood_terms(outputs))
        if cfg.w_pseudo > 0:
            terms.update(self._pseudo_term(outputs))
        if cfg.w_bag > 0:
            terms.update(self._bag_term(outputs))
        weights = {
            "clip": cfg.w_clip,
            "sdd": cfg.w_sdd * scale,
            "mmd": cfg.w_mmd * scale,
            "ssl_a": cfg.w_ssl,
            "ssl_b": cfg.w_ssl,
            "nbr_a": cfg.w_nbr,
            "nbr_b": cfg.w_nbr,
            "pseudo": cfg.w_pseudo,
            "bag": cfg.w_bag,
        }
        loss: Tensor | None = None
        for name, value in terms.items():
            loss = weights[name] * value if loss is None else loss + weights[name] * value
        if loss is None:  # nothing computable this step: a zero that still reaches both towers
            loss = outputs["all_a"].sum() * 0.0 + outputs["all_b"].sum() * 0.0
        terms["loss"] = loss
        return terms

    def _clip_term(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        pair_a, pair_b = outputs["pair_a"], outputs["pair_b"]
        if _global_rows(pair_a, self.config.gather_distributed) == 0:
            return {}
        n_pairs, cfg = pair_a.shape[0], self.config
        with_a = cfg.clip_extra_negatives or _pseudo_negatives(cfg)
        extra_a = outputs["all_a"][n_pairs:] if with_a else None
        extra_b = outputs["all_b"][n_pairs:] if cfg.clip_extra_negatives else None
        return {"clip": self.clip(pair_a, pair_b, extra_a=extra_a, extra_b=extra_b)}

    def _neighbourhood_terms(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each side's neighbourhood KL over all its rows (skipped below 2 rows)."""
        terms = {}
        for side in ("a", "b"):
            rows = outputs[f"all_{side}"]
            if _global_rows(rows, self.config.gather_distributed) >= 2:
                terms[f"nbr_{side}"] = self.neighbourhood(outputs[f"features_{side}"], rows)
        return terms

    def _bag_term(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Bag-level InfoNCE on the unpaired rows; absent without bag ids or below 2 bags."""
        bags_a, bags_b = outputs.get("bags_a"), outputs.get("bags_b")
        if bags_a is None or bags_b is None:
            return {}
        n_pairs = outputs["pair_a"].shape[0]
        unpaired_a, unpaired_b = outputs["all_a"][n_pairs:], outputs["all_b"][n_pairs:]
        loss = self.bag.loss_if_usable(unpaired_a, unpaired_b, bags_a, bags_b)
        return {} if loss is None else {"bag": loss}

    def _pseudo_term(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """S-CLIP pseudo-labels of the unpaired A rows; absent without them or < 2 pairs."""
        pair_a, pair_b = outputs["pair_a"], outputs["pair_b"]
        unpaired_a = outputs["all_a"][pair_a.shape[0] :]
        distributed = self.config.gather_distributed
        if _global_rows(pair_a, distributed) < 2 or _global_rows(unpaired_a, distributed) == 0:
            return {}
        scale = self.clip.logit_scale()
        if scale is not None:
            scale = scale.to(unpaired_a.dtype)
        return {"pseudo": self.pseudo(unpaired_a, pair_a, pair_b, logit_scale=scale)}

    def _distribution_terms(self, all_a: Tensor, all_b: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        if cfg.gather_distributed:
            all_a, all_b = gather_with_grad(all_a), gather_with_grad(all_b)
        if min(all_a.shape[0], all_b.shape[0]) < 2:
            return {}
        sdd = sdd_options(cfg) if cfg.w_sdd > 0 else None
        mmd = mmd_options(cfg) if cfg.w_mmd > 0 else None
        return functional.sdd_and_mmd(all_a, all_b, sdd=sdd, mmd=mmd, chunk_size=cfg.chunk_size)
