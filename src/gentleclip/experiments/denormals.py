"""Flush-to-zero for the bench's cells: denormal floats are slow on x86 CPUs, and rare.

A float32 below about 1.2e-38 (a *denormal*, or subnormal) is handled in microcode on x86
CPUs, tens of times slower than a normal float. Training makes a few of them where gradients
die out: on molecules (gentle recipe, 50 pairs, bags of 8, steps 400-420), the weight gradient
of the text tower's first layer had about 80 denormal entries per step, and AdamW read about
330 in its moments. The matrix product that made them took 0.93 ms per step, against 0.12 ms
for the same shapes on normal numbers.

``torch.set_flush_denormal(True)`` sets the CPU's flush-to-zero and denormals-are-zero flags:
such values become 0. A denormal next to any normal number vanishes in the rounding anyway
(``w - lr * 1e-40 == w``), so flushing it rarely changes a bit: a test trains with and without
it through a run full of denormal gradients and gets the same weights, and ``docs/results.md``
("Runtime") compares 244 bench rows, all equal. That is measured, not proven (a run that
divided by such a value would differ); ``--denormals keep`` runs without it. Side by side on
one machine, molecules' trained cells took 9% less time with it (clip 21%, gentle 8%); emoji's
took none less.

The flags belong to a thread. Bench workers run torch on one thread, set in their pool's
initializer; ``--workers 1`` sets them in this process for the grid's length and
turns them off after (torch's default, which has no getter to save).

Example::

    flush = denormal_flush("flush")          # True
    with flushed(flush):
        run.advance(steps)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from gentleclip.errors import InputError

CHOICES = ("flush", "keep")


def denormal_flush(choice: str) -> bool:
    """True for ``--denormals flush``, False for ``keep``; anything else is an InputError."""
    if choice not in CHOICES:
        raise InputError(f"unknown --denormals {choice!r}; expected one of {', '.join(CHOICES)}")
    return choice == "flush"


def set_flush(flush: bool) -> None:
    """Set this thread's flush-to-zero flags (a no-op where the CPU has none)."""
    torch.set_flush_denormal(flush)


@contextmanager
def flushed(flush: bool) -> Iterator[None]:
    """Denormals flushed to zero inside when ``flush``; off again (torch's default) after."""
    if not flush:
        yield
        return
    set_flush(True)
    try:
        yield
    finally:
        set_flush(False)


def flushing() -> bool:
    """Whether this thread flushes denormals now: ``1e-39 * 1`` comes out as 0."""
    return bool((torch.tensor([1e-39]) * 1.0).item() == 0.0)


def describe(flush: bool) -> str:
    """One log line for the run."""
    if flush:
        return "denormals: flushed to zero in the cells (--denormals keep turns it off)"
    return "denormals: kept (--denormals keep)"
