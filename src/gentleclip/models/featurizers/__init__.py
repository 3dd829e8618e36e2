"""Frozen pretrained encoders with an on-disk, content-hashed embedding cache."""

from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.cache import cache_root, featurize
from gentleclip.models.featurizers.registry import (
    create_featurizer,
    list_featurizers,
    register_featurizer,
    register_featurizer_backend,
)

__all__ = [
    "Featurizer",
    "cache_root",
    "create_featurizer",
    "featurize",
    "list_featurizers",
    "register_featurizer",
    "register_featurizer_backend",
]
