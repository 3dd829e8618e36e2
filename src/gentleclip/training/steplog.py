"""Per-step loss terms appended to ``RUN/logs/metrics.csv`` (one fixed header, resumable)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

COLUMNS = ("epoch", "step", "loss", "clip", "sdd", "mmd", "ssl_a", "ssl_b", "pseudo")


class StepCSVLogger(Callback):
    """Appends one row per optimizer step; on resume, drops rows the checkpoint had not reached.

    A row cut short by a killed process (wrong number of fields) is dropped on resume too.

    The module publishes its last step's terms as ``module.last_terms`` (floats).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[list[str]] = []
        if self.path.is_file():
            with self.path.open(newline="") as handle:
                rows = list(csv.reader(handle))[1:]
            kept = [row for row in rows if _step_of(row) < trainer.global_step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(kept)
        os.replace(tmp, self.path)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not trainer.is_global_zero:
            return
        terms: dict[str, float] = getattr(pl_module, "last_terms", {})
        row = [trainer.current_epoch, trainer.global_step - 1]
        row += [f"{terms[name]:.6g}" if name in terms else "" for name in COLUMNS[2:]]
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow(row)


def _step_of(row: list[str]) -> float:
    """The step of a complete row; ``inf`` (never kept) for a torn or malformed one."""
    if len(row) != len(COLUMNS) or not row[1].isdigit():
        return float("inf")
    return int(row[1])
