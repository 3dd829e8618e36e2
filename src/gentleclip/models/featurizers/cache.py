"""On-disk embedding cache for frozen featurizers: content-hashed safetensors files.

``featurize(featurizer, items)`` looks up ``<cache>/<name>/<sha256>.safetensors``; on a miss
it encodes (with a progress bar) and writes the file atomically. The key covers the
featurizer's name, version and settings and every item's content, so changed inputs or
settings never hit a stale entry. Cache root: ``$GENTLECLIP_CACHE`` or ``~/.cache/gentleclip``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gentleclip.models.featurizers.base import Featurizer


def cache_root() -> Path:
    """``$GENTLECLIP_CACHE`` or ``~/.cache/gentleclip``."""
    return Path(os.environ.get("GENTLECLIP_CACHE", Path.home() / ".cache" / "gentleclip"))


def featurize(
    featurizer: Featurizer,
    items: Sequence[Any],
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    use_cache: bool = True,
) -> np.ndarray:
    """Features of ``items`` from the cache, or encoded now and cached (float32, (N, dim))."""
    items = list(items)
    if not use_cache:
        return featurizer.encode(items, progress=progress)
    path = Path(cache_dir or cache_root() / "features") / featurizer.name
    path = path / f"{featurizer.cache_key(items)}.safetensors"
    cached = _read(path, len(items), featurizer.dim)
    if cached is not None:
        return cached
    features = featurizer.encode(items, progress=progress)
    _write(path, features)
    return features


def _read(path: Path, rows: int, dim: int) -> np.ndarray | None:
    """The cached matrix, or None when absent, unreadable or of the wrong shape."""
    if not path.is_file():
        return None
    try:
        features = load_file(str(path))["features"].numpy()
    except (SafetensorError, OSError, KeyError):
        return None
    return features if features.shape == (rows, dim) else None


def _write(path: Path, features: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".features.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({"features": torch.from_numpy(np.ascontiguousarray(features))}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
