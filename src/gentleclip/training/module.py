"""Lightning module: TwoTower + GentleObjective, step batches from the regime sampler."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import RegimeData
from gentleclip.data.sampler import (
    StepIndices,
    StepSampler,
    bag_sizes,
    largest_bag,
    rows_for_smallest_bags,
)
from gentleclip.errors import InputError
from gentleclip.losses.functional import finite_scans_skipped
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
        batch: dict[str, Tensor | int] = {
            "a": torch.from_numpy(a),
            "b": torch.from_numpy(b),
            "n_pairs": len(step.pairs),
        }
        if d.bags_a is not None and d.bags_b is not None:  # the unpaired rows' bag ids
            batch["bags_a"] = torch.from_numpy(d.bags_a[step.a])
            batch["bags_b"] = torch.from_numpy(d.bags_b[step.b])
        return batch


class StepLoader:
    """The steps of one epoch in order, resumable mid-epoch.

    Lightning stores :meth:`state_dict` in every checkpoint (a "stateful" loader); after
    :meth:`load_state_dict`, the next iteration starts at the first step the checkpointed run
    had not served, so a run resumed mid-epoch sees exactly the batches an uninterrupted run
    would. ``len`` is always the whole epoch, as Lightning counts the served steps itself.
    Under DDP all ranks serve their shares in lockstep, so rank 0's saved position (the one
    in the checkpoint) is every rank's.
    """

    def __init__(self, dataset: StepDataset, epoch: int) -> None:
        self.dataset = dataset
        self.epoch = epoch
        self._start = 0
        self._served = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[dict[str, Tensor | int]]:
        start, self._start = self._start, 0
        self._served = start
        for index in range(start, len(self.dataset)):
            self._served = index + 1
            yield self.dataset[index]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "served": self._served}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Start the next iteration after the steps already served (same epoch only)."""
        if int(state.get("epoch", -1)) != self.epoch:
            return
        self._start = min(int(state.get("served", 0)), len(self.dataset))


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
            w_nbr=0.0,
            w_bag=0.0,
            w_pseudo=w_pseudo,
            clip_extra_negatives=False,
        )
    return replace(config.loss, w_pseudo=0.0)


def training_data(
    data: RegimeData, config: TrainConfig, notes: list[str] | None = None
) -> RegimeData:
    """The data the run trains on: ``data``, with each bag's mean rows appended to the pairs
    when ``sampler.bag_means``, without its unpaired rows when ``sampler.use_unpaired`` is
    false; raises InputError when the method cannot train on it. With ``loss.bag_optional``
    a bag term that cannot apply is turned off in ``config`` (:func:`drop_unusable_bag_term`)
    and the line saying so appended to ``notes``."""
    if config.sampler.bag_means:
        data = data_with_bag_means(data)
    if not config.sampler.use_unpaired:
        if data.n_pairs < 2:
            raise InputError(
                f"sampler.use_unpaired false leaves the pairs alone, and {data.n_pairs} pair(s) "
                "cannot train; keep the unpaired rows (sampler.use_unpaired true) or add pairs"
            )
        data = data.without_unpaired()
    dropped = drop_unusable_bag_term(data, config)
    if dropped is not None and notes is not None:
        notes.append(dropped)
    check_method_data(data, config)
    return data


def drop_unusable_bag_term(data: RegimeData, config: TrainConfig) -> str | None:
    """With ``loss.bag_optional``, where the bag-level InfoNCE could never apply to ``data``
    (no bags, fewer than 2, or steps too small to hold 2), set ``config.loss.w_bag`` to 0 and
    return a line saying why; None otherwise (without the option the run is refused later,
    by :func:`check_method_data`)."""
    if config.method != "gentle" or config.loss.w_bag <= 0 or not config.loss.bag_optional:
        return None
    problem = bag_term_problem(data, config.sampler.unpaired_per_step)
    if problem is None:
        return None
    config.loss.w_bag = 0.0
    return f"loss.bag_optional: the bag term {problem[0]}, so the run trains without it (w_bag 0)"


def check_method_data(data: RegimeData, config: TrainConfig) -> None:
    """Raise InputError when the method cannot train on ``data`` (before anything is written)."""
    if (
        config.method == "gentle"
        and data.n_pairs < 2
        and not (len(data.unpaired_a) and len(data.unpaired_b))
    ):
        raise InputError(
            f"nothing to learn from: {data.n_pairs} pair(s) and no unpaired rows on both sides"
        )
    if config.method == "gentle" and config.loss.w_bag > 0:
        problem = bag_term_problem(data, config.sampler.unpaired_per_step)
        if problem is not None:
            reason, hint = problem
            raise InputError(
                f"loss.w_bag (bag-level InfoNCE) {reason} ({hint}; or set "
                "loss.bag_optional: true to train without the term where it cannot apply)"
            )
    unpaired = bool(len(data.unpaired_a) and len(data.unpaired_b))
    if config.method == "gentle" and config.loss.w_clip == 0 and not unpaired:
        raise InputError(
            "loss.w_clip 0 needs unpaired rows on both sides (bags or disjoint sides): without "
            "them the pairs are the only data and CLIP's term on them is what trains "
            "(--pairs-as-items needs unpaired rows; drop it or set loss.w_clip above 0)"
        )
    if config.method == "clip" and data.n_pairs == 0:
        raise InputError("--method clip needs matched pairs, but the data directory has 0 pairs")
    if config.method == "clip" and data.n_pairs < 2:
        raise InputError("--method clip needs at least 2 pairs (InfoNCE needs a negative)")
    if config.method == "sclip" and data.n_pairs < 2:
        raise InputError(
            f"--method sclip needs at least 2 matched pairs (its pseudo-labels are soft "
            f"assignments to the pairs), but the data has {data.n_pairs}"
        )
    if config.method == "sclip" and data.n_unpaired_a == 0:
        raise InputError(
            "--method sclip pseudo-labels unpaired A rows, and the data has none (pairs only): "
            "there it trains what --method clip trains; use --method clip"
        )


def bag_term_problem(data: RegimeData, rows_per_step: int) -> tuple[str, str] | None:
    """Why the bag-level InfoNCE could never apply to ``data``, and what would mend it: no
    bags, fewer than 2, or steps of ``rows_per_step`` unpaired rows too small to hold 2 of
    them on some side (the sampler keeps bags whole, so every step would hold one bag and no
    term); None when it can apply. Raised by :func:`check_method_data`, or read by
    :func:`drop_unusable_bag_term`."""
    if data.bags_a is None or data.bags_b is None:
        return "needs bags, but the data has none", "split with --regime bags, or set loss.w_bag: 0"
    n_bags = min(len(bag_sizes(bags)) for bags in (data.bags_a, data.bags_b))
    if n_bags < 2:
        return f"needs at least 2 bags, but the data has {n_bags}", "set loss.w_bag: 0"
    needed = rows_for_smallest_bags(data.bags_a, data.bags_b, 2)
    if needed <= rows_per_step:
        return None
    any_two = 2 * largest_bag(data.bags_a, data.bags_b)
    reason = (
        f"needs 2 bags in a step, but a step of sampler.unpaired_per_step={rows_per_step} rows "
        f"cannot hold 2 of these bags (the two smallest hold {needed} rows on one side)"
    )
    hint = (
        f"set sampler.unpaired_per_step (gentleclip train --unpaired-per-step) to {any_two}, "
        f"which holds any 2 (what --bag-nce picks when the option is left out); at least "
        f"{needed} holds 2 only where the smallest bags meet"
    )
    return reason, hint


def make_room_for_bags(data: RegimeData, config: TrainConfig, count: int) -> str | None:
    """Where a step of ``config.sampler.unpaired_per_step`` rows cannot hold ``count`` of the
    largest bags, raise it to ``count`` times the largest bag, so that any ``count`` bags fit
    a step (the benchmark's rule for gentle-bagnce: 2 bags of 128 in 256 rows), and return a
    line saying so; None otherwise (also without bags, which the bag term's own check
    refuses). Judged on the smallest bags instead, a step of 128 rows would be kept for bags
    of 100 whose last bag holds 20, and most steps would hold one bag and no bag term."""
    if data.bags_a is None or data.bags_b is None:
        return None
    rows = config.sampler.unpaired_per_step
    largest = largest_bag(data.bags_a, data.bags_b)
    if count * largest <= rows:
        return None
    config.sampler.unpaired_per_step = count * largest
    return (
        f"steps: the bag term needs {count} whole bags a step, and {rows} rows cannot hold "
        f"{count} of these (the largest holds {largest}), so sampler.unpaired_per_step is "
        f"{count * largest} (--unpaired-per-step sets it)"
    )


# What docs/results.md measured (tests/test_published_tables.py holds it to the rows).
WHOLE_BAG_EVIDENCE = (
    "In the benchmark (bags of 128), steps holding a whole bag beat 32-row steps in 13 of 22 "
    "rows (emoji and mfeat at 10-200 pairs, molecules at 0, 100 and 200) and lost 1 (emoji, 0 "
    "pairs) (docs/results.md, section 'Bag-level InfoNCE')."
)


def oversized_bags_notice(data: RegimeData, config: TrainConfig) -> str | None:
    """A line for a gentle run whose largest bag holds more rows than a step's
    ``sampler.unpaired_per_step``: such a bag's steps see independent random subsets of its
    two sides, where steps holding the whole bag did better in the benchmark (None when
    every bag fits, or the run is not gentle on bags)."""
    if config.method != "gentle" or data.bags_a is None or data.bags_b is None:
        return None
    largest = largest_bag(data.bags_a, data.bags_b)
    limit = config.sampler.unpaired_per_step
    if largest <= limit:
        return None
    return (
        f"steps: the largest bag holds {largest} rows, more than a step's "
        f"sampler.unpaired_per_step={limit}, so its steps hold independent random subsets of "
        f"its A and B rows. {WHOLE_BAG_EVIDENCE} Set sampler.unpaired_per_step to at least "
        f"{largest} (gentleclip train --unpaired-per-step {largest}) for steps that hold whole "
        f"bags (each step costs more)."
    )


# the methods whose steps hold unpaired rows (clip's hold the pairs alone)
SAMPLES_UNPAIRED = ("gentle", "sclip")


def reads_unpaired_rows(config: TrainConfig) -> bool:
    """Whether a run of ``config`` reads the data's unpaired rows at all.

    A ``clip`` run never samples them (:func:`make_sampler`): it reads them only through the
    input standardisation fitted on every training row (``model.normalize_inputs``) and the
    density ``model.sparse_inputs: auto`` measures. ``sampler.use_unpaired`` false drops
    them before anything is fitted; ``sampler.bag_means`` turns them into pairs. A run that
    does not read them returns the same model whatever unpaired rows the data hold (a test
    pins it), so a benchmark may compute it once for every regime with the same pairs.
    """
    if config.sampler.bag_means:
        return True
    if not config.sampler.use_unpaired:
        return False
    if config.method in SAMPLES_UNPAIRED:
        return True
    return config.model.normalize_inputs or config.model.sparse_inputs == "auto"


def make_sampler(data: RegimeData, config: TrainConfig) -> StepSampler:
    """Steps of pairs + whole bags / unpaired rows (pairs only for the clip baseline)."""
    use_unpaired = config.method in SAMPLES_UNPAIRED
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


def seed_step(seed: int, step: int) -> None:
    """Seed torch for optimizer step ``step``: dropout and augmentations then depend only on
    (seed, step), so a resumed run equals an uninterrupted one whatever else consumed random
    numbers in between (e.g. dataloader start-up), and a run cut at step k equals the first k
    steps of a longer one."""
    value = seed * 1_000_003 + step
    if torch.cuda.is_initialized() or torch.backends.mps.is_available():
        torch.manual_seed(value)  # every device's generator
    else:  # CPU only: torch.manual_seed would also queue lazy CUDA/XPU/MTIA seeding calls,
        # each recording a stack trace (about 0.3 ms per step)
        torch.default_generator.manual_seed(value)


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
        seed_step(self.config.seed, self.global_step)

    def train_dataloader(self) -> StepLoader:
        """This rank's share of every step of the current epoch (plan fixed by seed and epoch)."""
        rank, world = self.trainer.global_rank, self.trainer.world_size
        steps = self.sampler.epoch(self.current_epoch, rank=rank, world_size=world)
        return StepLoader(StepDataset(self.data, steps), self.current_epoch)

    def step_terms(self, batch: dict[str, Tensor | int], step: int) -> dict[str, Tensor]:
        """The objective's named terms (and ``loss``) on one step's batch.

        The batch's features were checked finite when the data was built, and
        :meth:`checked_loss` checks the loss, so the model's and the losses' NaN/inf scans of
        their inputs are skipped here (:func:`~gentleclip.losses.functional.finite_scans_skipped`).
        """
        with finite_scans_skipped():
            outputs = self.model(
                batch["a"],
                batch["b"],
                n_pairs=int(batch["n_pairs"]),
                ssl_views=self.loss_config.w_ssl > 0,
                bags_a=batch.get("bags_a"),
                bags_b=batch.get("bags_b"),
            )
            return self.objective(outputs, step=step)

    def training_step(self, batch: dict[str, Tensor | int], batch_idx: int) -> Tensor | None:
        return self.checked_loss(self.step_terms(batch, self.global_step), self.global_step)

    def checked_loss(self, terms: dict[str, Tensor], step: int) -> Tensor | None:
        """``terms["loss"]`` when finite (remembering the terms), else see :meth:`_non_finite`."""
        loss = terms["loss"]
        if not torch.isfinite(loss):
            return self._non_finite(terms, step)
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        return loss

    def _non_finite(self, terms: dict[str, Tensor], step: int) -> None:
        """Skip the step (``trainer.skip_nonfinite``; single process) or stop, naming the
        step, the non-finite terms and the last good checkpoint."""
        bad = ", ".join(k for k, v in terms.items() if k != "loss" and not torch.isfinite(v))
        where = f"step {step} (terms: {bad or 'loss'})"
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
        """AdamW; fine-tuned pretrained encoders get ``optim.encoder_lr`` (when set).

        The fused implementation (one kernel per parameter group) when every parameter is on
        a device it supports: on CPU about 0.6 ms less per step than the per-tensor loop.
        """
        optim = self.config.optim
        groups = parameter_groups(self, self.model, optim.lr, optim.encoder_lr)
        fused = all(p.device.type in ("cpu", "cuda", "mps") for p in self.parameters())
        return torch.optim.AdamW(
            groups, lr=optim.lr, weight_decay=optim.weight_decay, fused=fused or None
        )


def parameter_groups(
    module: nn.Module, model: TwoTower, lr: float, encoder_lr: float | None
) -> list[dict[str, object]]:
    """``module``'s trainable parameters split into those of ``model``'s pretrained encoders
    (learning rate ``encoder_lr``) and the rest (heads, adapters, a learnable CLIP scale).

    Frozen parameters are left out, so AdamW keeps no state for them.
    """
    pretrained: list[nn.Parameter] = []
    for tower in model.towers.values():
        if getattr(tower.encoder, "pretrained", False):
            backbone = [p for n, p in tower.encoder.named_parameters() if not n.startswith("norm.")]
            pretrained.extend(p for p in backbone if p.requires_grad)
    chosen = {id(p) for p in pretrained}
    rest = [p for p in module.parameters() if p.requires_grad and id(p) not in chosen]
    groups: list[dict[str, object]] = [{"params": rest, "lr": lr}]
    if pretrained:
        groups.append({"params": pretrained, "lr": encoder_lr if encoder_lr is not None else lr})
    return groups
