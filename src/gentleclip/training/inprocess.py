"""Train a TwoTower in this process with a plain loop: no Lightning, no files.

:func:`train_in_process` runs exactly the optimisation of :func:`gentleclip.training.fit.train`
on one CPU process: the same model initialisation
(:func:`~gentleclip.training.fit.initial_model`), the same step plan
(:class:`~gentleclip.data.sampler.StepSampler`), the same per-step seeding, loss and AdamW
update, so its weights equal those of a ``train`` run with the same config
(``tests/training/test_inprocess.py`` pins that). What it leaves out is what a benchmark does not
need and pays for at every step: checkpoints, the CSV log, the progress bar and Lightning's
hook machinery (about 3 of 7 ms per step on mfeat).

Because every step is seeded from (seed, step) alone and the learning rate is constant, the
model after ``k`` steps of a long run *is* the model a run of ``k`` steps returns. ``snapshots``
exposes it: ``on_snapshot(k, model)`` is called (model in eval mode) after each listed step,
so candidates that differ only in their step count share one run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.models import TwoTower
from gentleclip.training.config import TrainConfig
from gentleclip.training.fit import initial_model
from gentleclip.training.module import GentleCLIPModule, StepDataset, seed_step, training_data

Snapshot = Callable[[int, TwoTower], None]


def _check_single_process(config: TrainConfig) -> None:
    trainer = config.trainer
    if trainer.accelerator not in ("cpu", "auto") or trainer.devices not in (1, "1", "auto"):
        raise InputError(
            "in-process training runs on one CPU process; got accelerator "
            f"{trainer.accelerator!r}, devices {trainer.devices!r} (use gentleclip train)"
        )
    if trainer.num_nodes != 1 or trainer.precision not in ("32-true", "32", 32):
        raise InputError("in-process training needs num_nodes 1 and precision 32-true")


def total_steps(config: TrainConfig, module: GentleCLIPModule) -> int:
    """``optim.steps``, or the summed length of ``optim.epochs`` epochs of the step plan."""
    optim = config.optim
    if optim.steps is not None:
        return int(optim.steps)
    return sum(len(module.sampler.epoch(epoch)) for epoch in range(int(optim.epochs or 0)))


def _check_snapshots(snapshots: Iterable[int], last: int, first: int = 1) -> set[int]:
    wanted = {int(k) for k in snapshots}
    bad = sorted(k for k in wanted if not first <= k <= last)
    if bad:
        raise InputError(f"snapshot steps {bad} outside {first}..{last} (the steps trained)")
    return wanted


def train_in_process(
    data: RegimeData,
    config: TrainConfig,
    *,
    snapshots: Iterable[int] = (),
    on_snapshot: Snapshot | None = None,
) -> TwoTower:
    """Train on ``data`` for the configured steps (or epochs); return the model (eval mode).

    Raises InputError for data the method cannot train on, a multi-process or non-CPU trainer
    config, snapshot steps outside the run, or a non-finite loss (unless
    ``trainer.skip_nonfinite``, which skips that step as ``train`` does).
    """
    run = InProcessRun(data, config)
    return run.advance(run.total, snapshots=snapshots, on_snapshot=on_snapshot)


class InProcessRun:
    """A :func:`train_in_process` run that can stop at any step and go on later.

    ``advance(k)`` trains up to step ``k`` of the configured run; a later ``advance(m)``
    continues from there. Every step is seeded from (seed, step) and the step plan is fixed,
    so a run advanced in pieces ends with the weights of one uninterrupted run (a test pins
    it). The bench uses it to stop a tuning candidate early and continue only the best
    (``--search halving``).
    """

    def __init__(self, data: RegimeData, config: TrainConfig) -> None:
        config.validate()
        data = training_data(data, config)
        _check_single_process(config)
        self.model = initial_model(config, data)
        self.module = GentleCLIPModule(self.model, data, config)
        self.optimizer = self.module.configure_optimizers()
        self.total = total_steps(config, self.module)
        self.step = 0
        self._batches = self._plan(data)

    def _plan(self, data: RegimeData) -> Iterator[dict[str, Any]]:
        """The run's batches in step order, epoch after epoch."""
        epoch = 0
        while True:
            yield from StepDataset(data, self.module.sampler.epoch(epoch))
            epoch += 1

    def advance(
        self,
        until: int,
        *,
        snapshots: Iterable[int] = (),
        on_snapshot: Snapshot | None = None,
    ) -> TwoTower:
        """Train steps ``self.step + 1 .. until``; call ``on_snapshot`` after the listed ones.

        Returns the model in eval mode. Raises InputError for a target outside
        ``self.step..total`` or snapshot steps outside the steps trained by this call.
        """
        if not self.step <= until <= self.total:
            raise InputError(
                f"cannot train to step {until}: the run is at step {self.step} of {self.total}"
            )
        wanted = _check_snapshots(snapshots, until, first=self.step + 1)
        self.module.train()
        while self.step < until:
            _one_step(self.module, self.optimizer, next(self._batches), self.step)
            self.step += 1
            if self.step in wanted and on_snapshot is not None:
                self.module.eval()
                on_snapshot(self.step, self.model)
                self.module.train()
        return self.model.eval()


def _one_step(
    module: GentleCLIPModule, optimizer: torch.optim.Optimizer, batch: dict[str, Any], step: int
) -> None:
    """Lightning's automatic optimisation of one batch: zero grads, loss, backward, update."""
    seed_step(module.config.seed, step)
    optimizer.zero_grad(set_to_none=True)
    loss = module.checked_loss(module.step_terms(batch, step), step)
    if loss is None:  # skipped non-finite step
        return
    loss.backward()
    optimizer.step()
