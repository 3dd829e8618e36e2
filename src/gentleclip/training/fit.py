"""`train(data_dir, out_dir, config)`: one Lightning run writing model, config and logs.

Run directory layout::

    RUN/config.yaml            resolved configuration (written first)
    RUN/checkpoints/last.ckpt  checkpoint every trainer.checkpoint_every_steps steps and at the
                               end (safetensors, atomic); --resume continues from it exactly,
                               mid-epoch included
    RUN/logs/metrics.csv       per-step loss terms
    RUN/model/                 final TwoTower (model.safetensors + config.json)
    RUN/summary.json           regime, counts, steps, seconds

Every option that can fail is checked (and the objective and optimizer built) before the
directory is created. A fresh run that fails before its first checkpoint (bad option, NaN
loss at step 1, Ctrl-C), or whose model is useless (every step skipped, non-finite weights),
removes what it created, so the same command can simply be run again.

``--resume`` continues only the same run: each checkpoint records the configuration and the
data's identity (regime, counts, dimensions, SHA-256 of the training arrays), and a resume
that changes any of them is refused before anything is written. Only the keys in
:data:`~gentleclip.training.config.RESUMABLE_KEYS` may change (optim.steps / optim.epochs
upwards, trainer.progress, trainer.checkpoint_every_steps, trainer.skip_nonfinite).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.fabric.utilities.exceptions import MisconfigurationException

from gentleclip.data.io import check_output_dir
from gentleclip.data.regimes import RegimeData, load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path, write_json_atomic
from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
from gentleclip.models.sparse import MAX_DENSITY
from gentleclip.training.checkpoint import (
    SafetensorsCheckpointIO,
    StepCheckpoint,
    load_checkpoint_file,
    run_record,
)
from gentleclip.training.config import (
    RESUMABLE_KEYS,
    SCLIP_ONLY_KEYS,
    ModelConfig,
    TrainConfig,
    dump_config,
    read_yaml,
    resume_conflicts,
)
from gentleclip.training.module import (
    GentleCLIPModule,
    make_room_for_bags,
    oversized_bags_notice,
    training_data,
)
from gentleclip.training.steplog import StepCSVLogger, StepProgressBar

CHECKPOINT = Path("checkpoints") / "last.ckpt"
# what the baselines take from the data: the "expected" line above them is about gentle's
# distribution terms, which they do not have
METHOD_NOTES = {
    "clip": " (CLIP on the pairs only: the unpaired rows, and the 'expected' line, do not apply)",
    "sclip": (
        " (CLIP on the pairs, S-CLIP pseudo-labels for the unpaired A rows; no SDD or MMD, so "
        "the 'expected' line does not apply)"
    ),
}
LEGACY = "--config src/gentleclip/recipes/sclip-legacy.yaml (the recipe sclip-legacy)"
RUN_ENTRIES = ("config.yaml", "logs", "checkpoints", "model", "summary.json")
"""What ``train`` writes into a run directory (removed again when a fresh run fails)."""


class UselessRunError(InputError):
    """Training finished, but its model is unusable (every step skipped, non-finite weights)."""


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
    model.use_sparse_inputs(sparse_sides(model, config.model, data))
    return model


def input_density(data: RegimeData) -> dict[str, float]:
    """The share of non-zero entries in each side's training rows (paired and unpaired)."""
    arrays = {"a": data.train_arrays_a(), "b": data.train_arrays_b()}
    return {side: np.count_nonzero(x) / max(x.size, 1) for side, x in arrays.items()}


def sparse_sides(model: TwoTower, config: ModelConfig, data: RegimeData) -> list[str]:
    """The sides ``model.sparse_inputs`` names; with ``auto``, :func:`could_be_sparse`."""
    choice = config.sparse_inputs
    if choice != "auto":
        return {"none": [], "a": ["a"], "b": ["b"], "both": ["a", "b"]}[choice]
    return could_be_sparse(model, data)


def could_be_sparse(
    model: TwoTower, data: RegimeData, density: dict[str, float] | None = None
) -> list[str]:
    """Each side whose training rows are at most :data:`~gentleclip.models.sparse.MAX_DENSITY`
    non-zero and whose tower can compute its first layer from them
    (:meth:`~gentleclip.models.TwoTower.can_use_sparse_inputs`). ``density``: the sides'
    :func:`input_density` where the caller has it (counted here otherwise)."""
    shares = input_density(data) if density is None else density
    return [
        side
        for side, share in shares.items()
        if share <= MAX_DENSITY and model.can_use_sparse_inputs(side)
    ]


def sparse_inputs_line(model: TwoTower, data: RegimeData, config: ModelConfig) -> str | None:
    """What the run does with mostly-zero inputs: the sides it computes sparsely, or a hint
    naming the sides that could be (None where no side is mostly zero)."""
    used = model.sparse_sides()
    density = input_density(data)
    if used:
        sides = ", ".join(f"{side} ({density[side]:.1%} non-zero)" for side in used)
        return f"sparse inputs: the first layer of side {sides} reads the non-zero entries"
    could = could_be_sparse(model, data, density) if config.sparse_inputs == "none" else []
    if not could:
        return None
    named = " and ".join(f"{side} ({density[side]:.1%} non-zero)" for side in could)
    value = could[0] if len(could) == 1 else "both"
    return (
        f"hint: the features of side {named} are mostly zero; model.sparse_inputs: {value} "
        "computes the first layer from the non-zero entries (the same model, faster steps)"
    )


def data_identity(data: RegimeData) -> dict[str, Any]:
    """What a checkpoint records of its training data, for ``--resume`` to compare."""
    return {
        "regime": data.regime.value,
        "dim_a": data.dim_a,
        "dim_b": data.dim_b,
        "n_pairs": data.n_pairs,
        "n_unpaired_a": data.n_unpaired_a,
        "n_unpaired_b": data.n_unpaired_b,
        "n_bags": data.n_bags,
        "sha256": _training_digest(data),
    }


def _training_digest(data: RegimeData) -> str:
    """SHA-256 over the dtype, shape and bytes of every training array (pairs, unpaired, bags)."""
    sha = hashlib.sha256()
    arrays = (data.paired_a, data.paired_b, data.unpaired_a, data.unpaired_b)
    for array in (*arrays, data.bags_a, data.bags_b):
        if array is None:
            sha.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        sha.update(f"{array.dtype}|{array.shape};".encode())
        sha.update(array.data)
    return sha.hexdigest()


class _RunDir:
    """The directory of a fresh run: checked and created on rank 0, and removed again (only
    what this call created) when the run fails before it left anything worth resuming."""

    def __init__(self, path: Path, is_global_zero: bool) -> None:
        self.path = path
        self.is_global_zero = is_global_zero
        self.owned = False  # True once this call created (or took over the empty) directory
        self.created: Path | None = None  # outermost folder this call created

    def create(self) -> None:
        """Refuse a file or a non-empty directory; create the directory (rank 0 only)."""
        if not self.is_global_zero:
            return
        check_output_dir(self.path)
        if self.path.exists() and any(self.path.iterdir()):
            raise InputError(f"run directory {self.path} is not empty; use --resume or a new --out")
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        self.created = missing[-1] if missing else None
        self.path.mkdir(parents=True, exist_ok=True)
        self.owned = True

    def discard(self, err: BaseException) -> None:
        """After ``err``: remove what this call created, unless a checkpoint worth resuming
        exists (a useless run's checkpoint is not)."""
        if not self.owned:
            return
        if (self.path / CHECKPOINT).is_file() and not isinstance(err, UselessRunError):
            return
        if self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)
            return
        for name in RUN_ENTRIES:
            entry = self.path / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _checked_resume(
    out_dir: Path, config: TrainConfig, identity: dict[str, Any], module: GentleCLIPModule
) -> tuple[Path, int]:
    """The checkpoint to resume from and its step, after checking that ``config``, the data
    and the model continue the run it saved. Raises InputError (naming what differs) before
    anything is written; a checkpoint that cannot be read is an InputError naming the file.
    """
    path = out_dir / CHECKPOINT
    if not path.is_file():
        raise InputError(
            f"--resume: no checkpoint at {path} (a run stopped before its first checkpoint "
            "has nothing to resume; train into a new --out)"
        )
    saved = load_checkpoint_file(path)
    record = run_record(saved) or _legacy_record(out_dir)
    differences = _config_differences(record.get("config"), config)
    differences += _data_differences(record.get("data"), identity)
    if differences:
        raise InputError(
            f"--resume: {out_dir} was trained with other settings or data: "
            f"{'; '.join(differences)} (only {', '.join(RESUMABLE_KEYS)} may change)"
        )
    _check_shapes(saved, module, path)
    return path, _check_target(saved, config)


def _legacy_record(out_dir: Path) -> dict[str, Any]:
    """For a checkpoint without a run record: the run's config.yaml and, from summary.json
    (when the run had finished once), its data's regime and counts."""
    summary = _read_mapping(out_dir / "summary.json")
    keys = ("regime", "n_pairs", "n_unpaired_a", "n_unpaired_b")
    data = {k: summary[k] for k in keys if k in summary} if summary else None
    return {"config": _read_mapping(out_dir / "config.yaml"), "data": data}


def _read_mapping(path: Path) -> dict[str, Any] | None:
    """A YAML (or JSON) file's mapping; None when absent, unreadable or not a mapping."""
    try:
        values = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return values if isinstance(values, dict) else None


def _config_differences(saved: Any, config: TrainConfig) -> list[str]:
    """``key: old -> new`` for each key ``--resume`` may not change but ``config`` does."""
    if not isinstance(saved, dict):
        return []
    conflicts = resume_conflicts(saved, config)
    found = [f"{key} {old!r} -> {new!r}" for key, old, new in conflicts]
    if any(key in SCLIP_ONLY_KEYS for key, _, _ in conflicts):
        found.append(f"a sclip run saved with the earlier S-CLIP defaults resumes with {LEGACY}")
    return found


def _data_differences(saved: Any, identity: dict[str, Any]) -> list[str]:
    """``data.key: old -> new`` for each recorded property of the data that differs."""
    if not isinstance(saved, dict):
        return []
    differences = []
    for key, new in identity.items():
        old = saved.get(key)
        if key in saved and old != new:
            shown = "other training rows" if key == "sha256" else f"{old!r} -> {new!r}"
            differences.append(f"data.{key} {shown}")
    return differences


def _check_shapes(saved: dict[str, Any], module: GentleCLIPModule, path: Path) -> None:
    """Raise InputError when the module's parameters are not those the checkpoint holds."""
    state = saved.get("state_dict")
    stored = {k: tuple(v.shape) for k, v in (state or {}).items() if isinstance(v, torch.Tensor)}
    wanted = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    differing = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
    if differing:
        key = differing[0]
        raise InputError(
            f"--resume: the model does not match the checkpoint {path} ({key}: "
            f"{stored.get(key, 'absent')} there, {wanted.get(key, 'absent')} now)"
        )


def _check_target(saved: dict[str, Any], config: TrainConfig) -> int:
    """The checkpoint's step; raise InputError when optim.steps / optim.epochs lies below
    what the checkpoint already reached."""
    step, epoch = int(saved.get("global_step", 0)), int(saved.get("epoch", 0))
    steps, epochs = config.optim.steps, config.optim.epochs
    if steps is not None and steps < step:
        raise InputError(
            f"--resume: optim.steps {steps} is below step {step} that the checkpoint reached; "
            "pass a larger --steps"
        )
    if epochs is not None and epochs <= epoch:
        raise InputError(
            f"--resume: optim.epochs {epochs} is below epoch {epoch + 1} that the checkpoint "
            "reached; pass a larger --epochs"
        )
    return step


def _check_optimizer(module: GentleCLIPModule) -> None:
    """Build the optimizer once (then drop it): bad options fail before anything is written."""
    try:
        module.configure_optimizers()
    except ValueError as err:
        raise InputError(f"bad optimizer option: {str(err).strip() or type(err).__name__}") from err


def make_trainer(
    config: TrainConfig, out_dir: Path, record: dict[str, Any] | None = None
) -> L.Trainer:
    """A Lightning Trainer with atomic safetensors checkpoints and CSV logs in ``out_dir``;
    each checkpoint stores ``record`` (see :class:`StepCheckpoint`).

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
    checkpoint = StepCheckpoint(out_dir / CHECKPOINT, trainer.checkpoint_every_steps, record)
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
    bags_per_step: int = 0,
    loaded: RegimeData | None = None,
) -> dict[str, Any]:
    """Train on ``data_dir`` into ``out_dir``; return the run summary.

    ``loaded``: the dataset of ``data_dir`` when the caller has read it already (``--auto``
    reads it to choose), so it is not read twice.

    ``bags_per_step`` > 0: where a step of ``sampler.unpaired_per_step`` rows cannot hold that
    many whole bags of the data, ``config``'s step is raised to that many times the largest
    bag first (:func:`make_room_for_bags`; the line saying so is printed, and the run's
    config.yaml holds the value).

    Under a multi-process strategy every rank runs this function; only global rank 0 creates
    the run directory and writes files (the others only read the data and the checkpoint).
    """
    config.validate()
    data = loaded if loaded is not None else load_dataset_dir(data_dir)
    room = make_room_for_bags(data, config, bags_per_step) if bags_per_step > 0 else None
    notes = [room] if room is not None else []
    data = training_data(data, config, notes)
    out_dir = Path(out_dir)
    _quiet_lightning()
    identity = data_identity(data)
    trainer = make_trainer(config, out_dir, {"config": config.to_dict(), "data": identity})
    model = initial_model(config, data)  # bad model options fail here
    module = GentleCLIPModule(model, data, config, checkpoint_file=out_dir / CHECKPOINT)
    _check_optimizer(module)
    run_dir = _RunDir(out_dir, trainer.is_global_zero)
    checkpoint, start_step = None, 0
    if resume:
        checkpoint, start_step = _checked_resume(out_dir, config, identity, module)
    else:
        run_dir.create()
    try:
        return _fit(trainer, module, out_dir, checkpoint, start_step, verbose, notes)
    except BaseException as err:
        run_dir.discard(err)
        raise


def _fit(
    trainer: L.Trainer,
    module: GentleCLIPModule,
    out_dir: Path,
    checkpoint: Path | None,
    start_step: int,
    verbose: bool,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Write config.yaml, train (from ``checkpoint`` when given), check the model, then write
    it and summary.json; return the summary. ``notes``: lines about the run's settings (a
    step raised to hold whole bags, a bag term turned off), printed first."""
    data, config = module.data, module.config
    if verbose and trainer.is_global_zero:
        print(data.describe())
        if config.sampler.bag_means:
            print(f"bag means: the last {data.n_bags} pairs are the bags' mean rows")
        if not config.sampler.use_unpaired:
            print("sampler.use_unpaired false: the unpaired rows are left out (the pairs alone)")
        print(f"method: {config.method}" + METHOD_NOTES.get(config.method, ""))
        sparse = sparse_inputs_line(module.model, data, config.model)
        for line in (*notes, oversized_bags_notice(data, config), sparse):
            if line:
                print(line)
    if trainer.is_global_zero:
        with atomic_path(out_dir / "config.yaml", ".yaml") as tmp:
            tmp.write_text(dump_config(config), encoding="utf-8")
    start = time.perf_counter()
    _fit_interruptibly(trainer, module, checkpoint)
    seconds = round(time.perf_counter() - start, 2)
    _check_trained(module, trainer.global_step - start_step, trainer.is_global_zero)
    summary = {
        "method": config.method,
        "regime": data.regime.value,
        "n_pairs": data.n_pairs,
        "bag_mean_pairs": data.n_bags if config.sampler.bag_means else 0,
        "n_unpaired_a": len(data.unpaired_a),
        "n_unpaired_b": len(data.unpaired_b),
        "steps": trainer.global_step,
        "epochs": trainer.current_epoch,
        "seconds": seconds,
        "skipped_nonfinite_steps": module.skipped_steps,
    }
    if trainer.is_global_zero:
        module.model.save_pretrained(out_dir / "model")
        write_json_atomic(out_dir / "summary.json", summary)
    return summary


def _fit_interruptibly(
    trainer: L.Trainer, module: GentleCLIPModule, checkpoint: Path | None
) -> None:
    """``trainer.fit``, with Ctrl-C raised as KeyboardInterrupt again: Lightning catches it
    and calls ``sys.exit(1)``, which callers could not tell from any other exit."""
    try:
        trainer.fit(module, ckpt_path=str(checkpoint) if checkpoint else None)
    except SystemExit as exit_:
        if type(exit_) is SystemExit and exit_.code == 1:  # not SIGTERMException, a subclass
            raise KeyboardInterrupt from exit_
        raise


def _check_trained(module: GentleCLIPModule, steps: int, is_global_zero: bool) -> None:
    """Raise :class:`UselessRunError` when all ``steps`` of this call were skipped or the
    weights are not finite; warn (one line) when more than half were skipped."""
    skipped = module.skipped_steps
    if steps > 0 and skipped >= steps:
        raise UselessRunError(
            f"all {steps} steps had a non-finite loss and were skipped; no model written; "
            "lower optim.lr or check the inputs"
        )
    state = module.model.state_dict()
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise UselessRunError(
            f"the trained weights are not finite ({bad[0]}) after {steps} steps "
            f"({skipped} skipped); no model written; lower optim.lr"
        )
    if is_global_zero and skipped * 2 > steps:
        print(
            f"warning: {skipped} of {steps} steps had a non-finite loss and were skipped; "
            "the model is likely poor (lower optim.lr)",
            file=sys.stderr,
            flush=True,
        )
