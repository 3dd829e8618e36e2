"""`train(data_dir, out_dir, config)`: one Lightning run writing model, config and logs.

Run directory layout::

    RUN/config.yaml            resolved configuration (written first)
    RUN/checkpoints/last.ckpt  checkpoint every trainer.checkpoint_every_steps steps and at the
                               end (safetensors, atomic); --resume continues from it exactly,
                               mid-epoch included
    RUN/logs/metrics.csv       per-step loss terms
    RUN/model/                 final TwoTower (model.safetensors + config.json)
    RUN/summary.json           regime, counts, steps, seconds
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException

from gentleclip.data.regimes import RegimeData, load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path, write_json_atomic
from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
from gentleclip.training.checkpoint import (
    SafetensorsCheckpointIO,
    StepCheckpoint,
    load_checkpoint_file,
)
from gentleclip.training.config import ModelConfig, TrainConfig, dump_config
from gentleclip.training.module import GentleCLIPModule, check_method_data
from gentleclip.training.steplog import StepCSVLogger, StepProgressBar

CHECKPOINT = Path("checkpoints") / "last.ckpt"


def build_model(config: ModelConfig, dim_a: int, dim_b: int) -> TwoTower:
    """A TwoTower for inputs of the given feature dimensions."""
    tower_config = TwoTowerConfig(
        a=TowerConfig(
            encoder=config.encoder_a, encoder_kwargs=config.encoder_a_kwargs, input_dim=dim_a
        ),
        b=TowerConfig(
            encoder=config.encoder_b, encoder_kwargs=config.encoder_b_kwargs, input_dim=dim_b
        ),
        embed_dim=config.embed_dim,
        head_dropout=config.head_dropout,
        normalize_inputs=config.normalize_inputs,
        augment={"noise_std": config.noise_std, "mask_prob": config.mask_prob},
    )
    return TwoTower(tower_config)


def initial_model(config: TrainConfig, data: RegimeData) -> TwoTower:
    """The seeded, untrained model with its input normalisation fitted on ``data``'s training
    rows: the start of every run (``train`` and the in-process loop alike)."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    model = build_model(config.model, data.dim_a, data.dim_b)
    model.fit_normalization(
        torch.from_numpy(data.train_arrays_a()), torch.from_numpy(data.train_arrays_b())
    )
    return model


def _prepare_run_dir(out_dir: Path, resume: bool, is_global_zero: bool) -> Path | None:
    """Check (and on rank 0 create) the run directory; return the checkpoint to resume from.

    A checkpoint that cannot be read (truncated, corrupted) is an InputError naming the file,
    raised here before anything is trained or overwritten.
    """
    if resume:
        checkpoint = out_dir / CHECKPOINT
        if not checkpoint.is_file():
            raise InputError(f"--resume: no checkpoint at {checkpoint}")
        load_checkpoint_file(checkpoint)
        return checkpoint
    if not is_global_zero:
        return None
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"run directory {out_dir} is not empty; use --resume or a new --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    return None


def make_trainer(config: TrainConfig, out_dir: Path) -> L.Trainer:
    """A Lightning Trainer with atomic safetensors checkpoints and CSV logs in ``out_dir``.

    Unknown accelerator, devices, strategy or precision values are an InputError.
    """
    trainer = config.trainer
    options = {
        "accelerator": trainer.accelerator,
        "devices": trainer.devices,
        "strategy": trainer.strategy,
        "num_nodes": trainer.num_nodes,
        "precision": trainer.precision,
    }
    checkpoint = StepCheckpoint(out_dir / CHECKPOINT, trainer.checkpoint_every_steps)
    try:
        return L.Trainer(**options, **_fixed_trainer_options(config, out_dir, checkpoint))
    except (ValueError, TypeError, MisconfigurationException) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"bad trainer option: {first}") from err


def _fixed_trainer_options(
    config: TrainConfig, out_dir: Path, checkpoint: StepCheckpoint
) -> dict[str, Any]:
    """Trainer arguments that are not user-facing device options."""
    optim, trainer = config.optim, config.trainer
    return dict(
        deterministic=trainer.deterministic,
        max_steps=optim.steps if optim.steps is not None else -1,
        max_epochs=optim.epochs if optim.epochs is not None else -1,
        callbacks=[
            StepCSVLogger(out_dir / "logs" / "metrics.csv"),
            checkpoint,
            *([StepProgressBar(refresh_rate=10)] if trainer.progress else []),
        ],
        plugins=[SafetensorsCheckpointIO()],
        logger=False,
        enable_progress_bar=trainer.progress,
        enable_model_summary=False,
        reload_dataloaders_every_n_epochs=1,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
    )


def _quiet_lightning() -> None:
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # frozen parts of pretrained encoders stay in eval mode on purpose (no dropout, BN frozen)
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
    warnings.filterwarnings("ignore", message=".*`training_step` returned `None`.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*Experiment logs directory.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    *,
    resume: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train on ``data_dir`` into ``out_dir``; return the run summary.

    Under a multi-process strategy every rank runs this function; only global rank 0 creates
    the run directory and writes files (the others only read the data and the checkpoint).
    """
    config.validate()
    data = load_dataset_dir(data_dir)
    check_method_data(data, config)
    out_dir = Path(out_dir)
    _quiet_lightning()
    trainer = make_trainer(config, out_dir)
    model = initial_model(config, data)  # bad model options fail here
    checkpoint = _prepare_run_dir(out_dir, resume, trainer.is_global_zero)
    if verbose and trainer.is_global_zero:
        print(data.describe())
        print(f"method: {config.method}")
    if trainer.is_global_zero:
        with atomic_path(out_dir / "config.yaml", ".yaml") as tmp:
            tmp.write_text(dump_config(config), encoding="utf-8")
    module = GentleCLIPModule(model, data, config, checkpoint_file=out_dir / CHECKPOINT)
    start = time.perf_counter()
    trainer.fit(module, ckpt_path=str(checkpoint) if checkpoint else None)
    summary = {
        "method": config.method,
        "regime": data.regime.value,
        "n_pairs": data.n_pairs,
        "n_unpaired_a": len(data.unpaired_a),
        "n_unpaired_b": len(data.unpaired_b),
        "steps": trainer.global_step,
        "epochs": trainer.current_epoch,
        "seconds": round(time.perf_counter() - start, 2),
        "skipped_nonfinite_steps": module.skipped_steps,
    }
    if trainer.is_global_zero:
        model.save_pretrained(out_dir / "model")
        write_json_atomic(out_dir / "summary.json", summary)
    return summary
