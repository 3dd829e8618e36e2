"""Lightning module: TwoTower + GentleObjective, step batches from the regime sampler."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gentleclip.data.regimes import RegimeData
from gentleclip.data.sampler import StepIndices, StepSampler
from gentleclip.errors import InputError
from gentleclip.models import TwoTower
from gentleclip.training.config import LossConfig, TrainConfig
from gentleclip.training.objective import GentleObjective


class StepDataset(Dataset):
    """One item per optimisation step: pair rows first, then the step's unpaired rows."""

    def __init__(self, data: RegimeData, steps: list[StepIndices]) -> None:
        self.data = data
        self.steps = steps

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        step, d = self.steps[index], self.data
        a = np.concatenate([d.paired_a[step.pairs], d.unpaired_a[step.a]])
        b = np.concatenate([d.paired_b[step.pairs], d.unpaired_b[step.b]])
        return {"a": torch.from_numpy(a), "b": torch.from_numpy(b), "n_pairs": len(step.pairs)}


def effective_loss_config(config: TrainConfig) -> LossConfig:
    """The terms each method uses.

    ``clip`` keeps only the CLIP term; ``sclip`` CLIP plus S-CLIP's pseudo-label term;
    ``gentle`` the configured CLIP/SDD/MMD/SSL weights (never the pseudo-label term).
    """
    if config.method in ("clip", "sclip"):
        w_pseudo = config.loss.w_pseudo if config.method == "sclip" else 0.0
        return replace(
            config.loss,
            w_sdd=0.0,
            w_mmd=0.0,
            w_ssl=0.0,
            w_pseudo=w_pseudo,
            clip_extra_negatives=False,
        )
    return replace(config.loss, w_pseudo=0.0)


def check_method_data(data: RegimeData, config: TrainConfig) -> None:
    """Raise InputError when the method cannot train on ``data`` (before anything is written)."""
    if config.method == "clip" and data.n_pairs == 0:
        raise InputError("--method clip needs matched pairs, but the data directory has 0 pairs")
    if config.method == "clip" and data.n_pairs < 2:
        raise InputError("--method clip needs at least 2 pairs (InfoNCE needs a negative)")
    if config.method == "sclip" and data.n_pairs < 2:
        raise InputError(
            f"--method sclip needs at least 2 matched pairs (its pseudo-labels are soft "
            f"assignments to the pairs), but the data has {data.n_pairs}"
        )


def make_sampler(data: RegimeData, config: TrainConfig) -> StepSampler:
    """Steps of pairs + whole bags / unpaired rows (pairs only for the clip baseline)."""
    use_unpaired = config.method in ("gentle", "sclip")
    return StepSampler(
        n_pairs=data.n_pairs,
        n_unpaired_a=len(data.unpaired_a) if use_unpaired else 0,
        n_unpaired_b=len(data.unpaired_b) if use_unpaired else 0,
        bags_a=data.bags_a if use_unpaired else None,
        bags_b=data.bags_b if use_unpaired else None,
        pairs_per_step=config.sampler.pairs_per_step,
        unpaired_per_step=config.sampler.unpaired_per_step,
        seed=config.seed,
    )


class GentleCLIPModule(L.LightningModule):
    """Trains a :class:`TwoTower` with the Gentle-CLIP objective (or CLIP alone)."""

    def __init__(
        self,
        model: TwoTower,
        data: RegimeData,
        config: TrainConfig,
        *,
        checkpoint_file: Path | None = None,
    ) -> None:
        """``data`` must already satisfy :func:`check_method_data` (``train`` checks it first)."""
        super().__init__()
        self.model = model
        self.data = data
        self.config = config
        self.loss_config = effective_loss_config(config)
        self.objective = GentleObjective(self.loss_config)
        self.sampler = make_sampler(data, config)
        self.last_terms: dict[str, float] = {}
        self.skipped_steps = 0
        self.checkpoint_file = checkpoint_file  # named when a non-finite loss stops the run

    def on_train_batch_start(self, batch: object, batch_idx: int) -> None:
        # Seeding per step (dropout, augmentations) makes a resumed run equal an uninterrupted one,
        # whatever else consumed random numbers in between (e.g. dataloader start-up).
        torch.manual_seed(self.config.seed * 1_000_003 + self.global_step)

    def train_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        steps = self.sampler.epoch(self.current_epoch, rank=rank, world_size=world)
        return DataLoader(StepDataset(self.data, steps), batch_size=None, shuffle=False)

    def training_step(self, batch: dict[str, Tensor | int], batch_idx: int) -> Tensor:
        outputs = self.model(
            batch["a"],
            batch["b"],
            n_pairs=int(batch["n_pairs"]),
            ssl_views=self.loss_config.w_ssl > 0,
        )
        terms = self.objective(outputs, step=self.global_step)
        loss = terms["loss"]
        if not torch.isfinite(loss):
            return self._non_finite(terms)
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        self.log("loss", loss.detach(), prog_bar=True, batch_size=int(batch["a"].shape[0]))
        return loss

    def _non_finite(self, terms: dict[str, Tensor]) -> None:
        """Skip the step (``trainer.skip_nonfinite``; single process) or stop, naming the
        step, the non-finite terms and the last good checkpoint."""
        bad = ", ".join(k for k, v in terms.items() if k != "loss" and not torch.isfinite(v))
        where = f"step {self.global_step} (terms: {bad or 'loss'})"
        if self.config.trainer.skip_nonfinite:
            self.skipped_steps += 1
            print(f"warning: skipped non-finite loss at {where}", flush=True)
            return None
        ckpt = self.checkpoint_file
        last = f"last good checkpoint: {ckpt}" if ckpt and ckpt.is_file() else "no checkpoint yet"
        raise InputError(
            f"non-finite loss at {where}; {last}; lower optim.lr, check the inputs, "
            "or pass --skip-nonfinite"
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optim = self.config.optim
        return torch.optim.AdamW(self.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
