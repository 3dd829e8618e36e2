"""Frozen pretrained encoders ("featurizers"): raw items -> fixed feature vectors.

A featurizer turns raw inputs (image paths, texts, protein sequences, structures, SMILES)
into a float32 matrix once; the two towers then train on those features. Outputs are cached
on disk by content (see :mod:`gentleclip.models.featurizers.cache`), so a second run with the
same inputs skips encoding.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Featurizer(ABC):
    """Base class: subclasses set ``name``/``version``, implement ``dim`` and ``_encode``."""

    name: str = ""
    version: str = "1"

    @property
    @abstractmethod
    def dim(self) -> int:
        """Width of the returned feature vectors."""

    def settings(self) -> dict[str, Any]:
        """JSON-able settings that change the output (part of the cache key)."""
        return {}

    def item_bytes(self, item: Any) -> bytes:
        """Bytes identifying one input's content: a file's bytes for paths, UTF-8 for text."""
        if isinstance(item, Path):
            return item.read_bytes()
        if isinstance(item, str):
            return item.encode("utf-8")
        if isinstance(item, np.ndarray):
            return np.ascontiguousarray(item).tobytes() + str(item.shape).encode()
        return json.dumps(item, sort_keys=True, default=str).encode("utf-8")

    def cache_key(self, items: Sequence[Any]) -> str:
        """sha256 over the featurizer identity and every item's content, in order."""
        digest = hashlib.sha256()
        identity = {"name": self.name, "version": self.version, "settings": self.settings()}
        digest.update(json.dumps(identity, sort_keys=True).encode())
        for item in items:
            digest.update(hashlib.sha256(self.item_bytes(item)).digest())
        return digest.hexdigest()

    @abstractmethod
    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        """(len(items), dim) float32; show a progress bar when ``progress``."""

    def encode(self, items: Sequence[Any], *, progress: bool = True) -> np.ndarray:
        """Encode without the cache (see :func:`featurize` for the cached path)."""
        out = np.asarray(self._encode(list(items), progress=progress), dtype=np.float32)
        if out.shape != (len(items), self.dim):
            raise RuntimeError(
                f"{self.name} returned {out.shape}, expected ({len(items)}, {self.dim})"
            )
        return out
