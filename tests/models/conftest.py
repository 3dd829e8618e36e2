"""Shared fixtures for the models tests: a small two-tower config and data."""

from __future__ import annotations

import pytest
import torch

from gentleclip.models import TowerConfig, TwoTowerConfig

DIM_A, DIM_B, EMBED = 6, 4, 5  # test_models_two_tower.py repeats these


@pytest.fixture
def config() -> TwoTowerConfig:
    """MLP tower for side a, identity tower for side b, small embedding."""
    return TwoTowerConfig(
        a=TowerConfig("mlp", {"hidden_dims": [12, 9], "dropout": 0.2}, DIM_A),
        b=TowerConfig("identity", {}, DIM_B),
        embed_dim=EMBED,
        head_dropout=0.2,
    )


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Feature rows with non-zero mean and non-unit scale: 11 rows of a, 7 rows of b."""
    gen = torch.Generator().manual_seed(0)
    a = 3.0 + 2.0 * torch.randn(11, DIM_A, generator=gen)
    b = -1.0 + 0.5 * torch.randn(7, DIM_B, generator=gen)
    return a, b
