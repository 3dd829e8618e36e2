"""Shared fixtures of the training tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gentleclip.cli.main import main

SplitWriter = Callable[..., Path]


def _write_split(root: Path, *, seed: int, split_args: list[str]) -> Path:
    """A two-view dataset of 160 items (4 latent classes) put through `gentleclip split`:
    10 pairs, 40 test pairs, the rest arranged by ``split_args`` (regime options)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=160)
    z = rng.normal(size=(4, 5))[labels] * 3 + rng.normal(size=(160, 5))
    a = (z @ rng.normal(size=(5, 12))).astype(np.float32)
    b = np.tanh(z @ rng.normal(size=(5, 7)) / 3).astype(np.float32)
    np.savez(root / "full.npz", a=a, b=b, labels=labels)
    data = root / "data"
    argv = ["split", str(root / "full.npz"), "--out", str(data), "--pairs", "10"]
    assert main([*argv, "--test-size", "40", *split_args]) == 0
    return data


@pytest.fixture(scope="session")
def write_split() -> SplitWriter:
    """``write_split(root, seed=..., split_args=[...]) -> data dir`` (see :func:`_write_split`)."""
    return _write_split
