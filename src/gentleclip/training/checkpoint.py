"""Lightning checkpoints without pickle: tensors in safetensors, structure in its metadata.

A Lightning checkpoint is a nested dict of tensors, numbers, strings, lists, tuples and
dicts with int or str keys (model and optimizer state, loop progress, callback state).
:class:`SafetensorsCheckpointIO` stores every tensor in one ``.safetensors`` file and the
nesting (with tensors replaced by references) as JSON in that file's metadata, so a
checkpoint is one file, written atomically (temp file, fsync, ``os.replace``) and loaded
without ever unpickling anything. A SHA-256 digest of the tensor bytes is stored in the
metadata too, so flipped bytes in the tensor data are caught on load, not trained on.
:class:`StepCheckpoint` decides when one is written, and records in each checkpoint what
run it belongs to (configuration and data identity, under :data:`RUN_RECORD_KEY`), so that
``--resume`` can refuse to continue it with other settings or data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning.pytorch.callbacks import Checkpoint
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from gentleclip.errors import InputError

_META_KEY = "gentleclip_checkpoint"
_DIGEST_KEY = "gentleclip_sha256"
RUN_RECORD_KEY = "gentleclip_run"
"""Top-level checkpoint key of the run record (``{"config": {...}, "data": {...}}``)."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """Replace tensors by references; tag tuples and dicts so they decode exactly."""
    if isinstance(obj, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str | int):
                raise TypeError(f"checkpoint key {key!r} at {path} is not str or int")
            items.append([key, _encode(value, tensors, f"{path}/{key}")])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path} in a safetensors checkpoint")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        return {key: _decode(value, tensors) for key, value in obj["__dict__"]}
    return obj


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and raw bytes, in name order."""
    sha = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        sha.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        sha.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return sha.hexdigest()


def save_checkpoint_file(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically as one safetensors file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(checkpoint, tensors, "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        metadata = {_META_KEY: json.dumps(structure), _DIGEST_KEY: _digest(tensors)}
        save_file(tensors, tmp, metadata=metadata)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint_file(path: str | Path, map_location: Any = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint_file`; clear error if damaged."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    device = "cpu" if map_location is None or callable(map_location) else str(map_location)
    try:
        with safe_open(str(path), framework="pt", device=device) as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        structure = json.loads(metadata[_META_KEY])
        checkpoint = _decode(structure, tensors)
    except (SafetensorError, OSError, KeyError, ValueError, TypeError) as err:
        raise InputError(
            f"checkpoint {path} is truncated or corrupted ({type(err).__name__}); "
            "delete it or resume from another run"
        ) from err
    expected = metadata.get(_DIGEST_KEY)  # absent in checkpoints written before digests
    if expected is not None and _digest(tensors) != expected:
        raise InputError(
            f"checkpoint {path} is corrupted (tensor data does not match its SHA-256 digest); "
            "delete it or resume from another run"
        )
    return checkpoint


class SafetensorsCheckpointIO(CheckpointIO):
    """Lightning ``CheckpointIO`` plugin storing checkpoints as single safetensors files."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        save_checkpoint_file(checkpoint, path)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint_file(path, map_location)

    def remove_checkpoint(self, path: Any) -> None:
        Path(path).unlink(missing_ok=True)


class StepCheckpoint(Checkpoint):
    """Save ``path`` every ``every_n_steps`` optimizer steps and once more when training ends.

    Saves happen at the end of a training batch (or of the last epoch), where Lightning's loop
    progress and the stateful step loader describe the same position, so a run resumed from
    any of them continues mid-epoch exactly where the saved run was. All ranks call
    ``trainer.save_checkpoint``; the strategy writes the file on rank 0 only.
    """

    def __init__(
        self, path: str | Path, every_n_steps: int, record: dict[str, Any] | None = None
    ) -> None:
        """``record`` (JSON-like: the run's configuration and data identity) is stored in
        every checkpoint under :data:`RUN_RECORD_KEY`; see :func:`run_record`."""
        if every_n_steps < 1:
            raise InputError(f"checkpoint every_n_steps must be >= 1, got {every_n_steps}")
        self.path = Path(path)
        self.every_n_steps = int(every_n_steps)
        self.record = record
        self._saved_step = -1

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.record is not None:
            checkpoint[RUN_RECORD_KEY] = self.record

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.global_step % self.every_n_steps == 0 or trainer.fit_loop.done:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.fit_loop.done:
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        """Write the checkpoint unless this optimizer step is already saved."""
        if trainer.global_step == self._saved_step or trainer.sanity_checking:
            return
        trainer.save_checkpoint(self.path)
        self._saved_step = trainer.global_step


def run_record(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The run record a :class:`StepCheckpoint` stored in ``checkpoint`` (None in checkpoints
    written before records existed)."""
    record = checkpoint.get(RUN_RECORD_KEY)
    return record if isinstance(record, dict) else None
