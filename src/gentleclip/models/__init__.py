"""gentleclip.models: encoders, projection heads, pooling, augmentation and the two-tower model."""

from __future__ import annotations

from gentleclip.models.augment import FeatureAugment
from gentleclip.models.encoders import create_encoder, list_encoders, register_encoder
from gentleclip.models.heads import ProjectionHead
from gentleclip.models.normalize import FeatureNorm
from gentleclip.models.pooling import AttentionPooling
from gentleclip.models.two_tower import TowerConfig, TwoTower, TwoTowerConfig

__all__ = [
    "AttentionPooling",
    "FeatureAugment",
    "FeatureNorm",
    "ProjectionHead",
    "TowerConfig",
    "TwoTower",
    "TwoTowerConfig",
    "create_encoder",
    "list_encoders",
    "register_encoder",
]
