from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def make_full(n: int = 160, seed: int = 0) -> dict[str, np.ndarray]:
    """Two views of the same latent clusters: a linear, b a non-linear map plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=n)
    centers = rng.normal(size=(4, 5)) * 3
    z = centers[labels] + rng.normal(size=(n, 5))
    a = z @ rng.normal(size=(5, 12)) + 0.1 * rng.normal(size=(n, 12))
    b = np.tanh(z @ rng.normal(size=(5, 7)) / 3) + 0.05 * rng.normal(size=(n, 7))
    return {"a": a.astype(np.float32), "b": b.astype(np.float32), "labels": labels}


@pytest.fixture(scope="session")
def full_data() -> Callable[..., dict[str, np.ndarray]]:
    """:func:`make_full`, for module-scoped fixtures that write their own data."""
    return make_full


@pytest.fixture
def full_npz(tmp_path: Path) -> Path:
    path = tmp_path / "full.npz"
    np.savez(path, **make_full())
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "model: {embed_dim: 16, encoder_a_kwargs: {hidden_dims: [32]}, "
        "encoder_b_kwargs: {hidden_dims: [32]}}\n"
        "sampler: {pairs_per_step: 8, unpaired_per_step: 32}\n"
        "trainer: {progress: false, checkpoint_every_steps: 2}\n"
    )
    return path
