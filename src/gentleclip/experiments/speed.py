"""Machine speed: one reference training step, timed, beside every bench run.

The bench's runtime depends on the machine as much as on the code: on the 2-core machine the
published grids ran on, the same step took 5.0 ms one hour and 8.5 ms the next
(docs/results.md, "Runtime"). A runtime in minutes means little without the speed it was
measured at, so ``gentleclip bench`` times :func:`reference_step_ms` before and after its
grid and records both, with the run's wall time and worker-seconds, in ``<out>/timing.jsonl``
(:func:`append_timing`); the report quotes them (:func:`timing_lines`).

The reference step is the proteins gentle recipe's optimisation step (CLIP + SDD + MMD, MLP
towers, dropout, AdamW) on synthetic data of proteins' shapes at 200 pairs with bags of 8:
256 and 158 features a side, 200 pairs and 3 bags of 8 unpaired rows a side. It needs no
installed data. Time is CPU time of this process on one torch thread (``process_time``), as
each bench worker runs, so other processes sharing the core do not count.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path
from gentleclip.recipes import load_recipe
from gentleclip.training.config import config_from_dict
from gentleclip.training.inprocess import InProcessRun

TIMING = "timing.jsonl"
REFERENCE = "proteins gentle recipe step, synthetic 200 pairs + bags of 8 (256 / 158 features)"
WARMUP_STEPS = 20


def reference_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Gaussian features of proteins' shapes: 200 pairs, 3 bags of 8 unpaired rows a side."""
    rng = np.random.default_rng(seed)
    bags = np.repeat(np.arange(3), 8)
    return {
        "paired_a": rng.standard_normal((200, 256), dtype=np.float32),
        "paired_b": rng.standard_normal((200, 158), dtype=np.float32),
        "unpaired_a": rng.standard_normal((len(bags), 256), dtype=np.float32),
        "unpaired_b": rng.standard_normal((len(bags), 158), dtype=np.float32),
        "unpaired_a_bags": bags,
        "unpaired_b_bags": bags.copy(),
    }


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch runs on one intra-op thread inside (its setting is restored after).

    Results depend on the thread count: a long run at a high learning rate can turn the
    rounding differences of another reduction order into a different model. Every bench
    worker runs on one thread, so ``--workers 1`` does too and results do not depend on
    ``--workers``; the reference step is timed the same way.
    """
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextmanager
def environment_for_children(values: Mapping[str, str]) -> Iterator[None]:
    """Processes started inside see ``values`` in their environment; this process's
    variables are restored on exit (a variable that was unset is unset again)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def reference_step_ms(steps: int = 200) -> float:
    """CPU milliseconds per reference step, the mean of ``steps`` steps after a warm-up."""
    if steps < 1:
        raise InputError(f"reference steps must be >= 1, got {steps}")
    config = load_recipe("proteins-gentle").to_dict()
    config["seed"] = 0
    config["trainer"]["progress"] = False
    config["optim"].update(steps=WARMUP_STEPS + steps, epochs=None)
    run = InProcessRun(RegimeData.from_arrays(reference_arrays()), config_from_dict(config))
    return mean_step_ms(run, steps)


def mean_step_ms(run: InProcessRun, steps: int) -> float:
    """CPU milliseconds per step of ``run`` on one torch thread: the mean of ``steps`` steps
    after :data:`WARMUP_STEPS` (``run`` must have room for both)."""
    with one_torch_thread():
        run.advance(WARMUP_STEPS)
        start = time.process_time()
        run.advance(WARMUP_STEPS + steps)
        return (time.process_time() - start) / steps * 1000.0


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def timing_record(
    *,
    before_ms: float,
    after_ms: float,
    wall_seconds: float,
    rows: Sequence[dict[str, Any]],
    workers: int,
    allocator: str = "system",
    denormals: str = "keep",
) -> dict[str, Any]:
    """One run's line of ``timing.jsonl``: speed at both ends, wall time and worker time, and
    what the rows depend on besides the code: the CPU and the vector instructions torch's
    kernels use on it (``cpu_capability``: trained rows differ in their rounding between
    AVX2 and other kernels, docs/results.md section "Runtime")."""
    return {
        "allocator": allocator,
        "denormals": denormals,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cells": len(rows),
        "workers": workers,
        "wall_seconds": round(wall_seconds, 1),
        "worker_seconds": round(sum(float(r.get("seconds", 0.0)) for r in rows), 1),
        "reference_step_ms": {"before": round(before_ms, 3), "after": round(after_ms, 3)},
        "reference": REFERENCE,
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }


def append_timing(out: Path, record: dict[str, Any]) -> Path:
    """Add ``record`` to ``<out>/timing.jsonl`` (rewritten atomically, earlier runs kept)."""
    path = out / TIMING
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    with atomic_path(path, ".jsonl") as tmp:
        tmp.write_text(old + json.dumps(record, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_timing(out: Path) -> list[dict[str, Any]]:
    """The runs recorded in ``<out>/timing.jsonl`` (none when the file is absent)."""
    path = out / TIMING
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not JSON lines: {err}") from err


def timing_lines(out: Path) -> list[str]:
    """Markdown lines describing each recorded run (empty when none was recorded)."""
    runs = read_timing(out)
    if not runs:
        return []
    lines = [f"Runs (reference step: {REFERENCE}; CPU ms on one thread):", ""]
    for run in runs:
        ref = run.get("reference_step_ms", {})
        lines.append(
            f"- {run.get('finished', '?')}: {run.get('cells', '?')} cells on "
            f"{run.get('workers', '?')} workers in {_minutes(run.get('wall_seconds'))} wall, "
            f"{run.get('worker_seconds', '?')} worker-seconds; reference step "
            f"{ref.get('before', '?')} ms before, {ref.get('after', '?')} ms after "
            f"({run.get('cpu', '?')}{_capability(run)}, torch {run.get('torch', '?')}, "
            f"{run.get('allocator', 'system')} malloc, denormals "
            f"{run.get('denormals', 'keep')})"
        )
    return lines


def _capability(run: dict[str, Any]) -> str:
    """A timing line's kernels part (", kernels AVX2"); empty for runs before session 713cf26,
    which did not record them."""
    capability = run.get("cpu_capability")
    return f", kernels {capability}" if capability else ""


def _minutes(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "?"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
