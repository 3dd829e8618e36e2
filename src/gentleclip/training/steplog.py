"""Per-step loss terms appended to ``RUN/logs/metrics.csv`` (one fixed header, resumable), and
the run's progress bar (one bar over all steps)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ProgressBar
from tqdm.auto import tqdm

COLUMNS = (
    "epoch", "step", "loss", "clip", "sdd", "mmd", "ssl_a", "ssl_b", "pseudo", "nbr_a", "nbr_b",
    "bag",
)  # fmt: skip
# the header before the neighbourhood and bag terms were logged: such a log is resumed with
# its rows widened by empty fields
OLD_COLUMNS = COLUMNS[:9]


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
                header, *rows = list(csv.reader(handle)) or [[]]
            if tuple(header) == OLD_COLUMNS:
                rows = [row + [""] * (len(COLUMNS) - len(row)) for row in rows if len(row) == 9]
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


class StepProgressBar(ProgressBar):
    """One bar over every optimizer step of the run, with the last loss and the epoch.

    Lightning's default bar restarts every epoch; a step plan over a few pairs has only one or
    two steps per epoch, so it printed a new bar for nearly every step. This one counts
    ``trainer.estimated_stepping_batches`` (``max_steps``, or ``max_epochs`` x steps per epoch)
    and starts at the resumed step. It reads ``module.last_terms``, so the module logs nothing.
    """

    def __init__(self, refresh_rate: int = 10) -> None:
        super().__init__()
        self.refresh_rate = max(1, refresh_rate)
        self._enabled = True
        self._bar: tqdm | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (self._enabled and trainer.is_global_zero):
            return
        total = trainer.estimated_stepping_batches
        self._bar = tqdm(
            total=int(total) if math.isfinite(total) else None,
            initial=trainer.global_step,
            desc="training",
            unit="step",
            dynamic_ncols=True,
        )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        bar = self._bar
        if bar is None:
            return
        step = trainer.global_step
        if step % self.refresh_rate and step != bar.total:
            return
        bar.update(step - bar.n)
        loss = getattr(pl_module, "last_terms", {}).get("loss", math.nan)
        bar.set_postfix(loss=f"{loss:.4g}", epoch=trainer.current_epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
