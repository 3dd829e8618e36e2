"""Fitted baselines on disk: safetensors arrays plus a JSON config, as trained models are saved.

:func:`save_embedder` writes a fitted map into a directory: ``model.safetensors`` holds every
array of it (float64; standardisers, weights, bases, anchors) and ``config.json`` its format
(``gentleclip-baseline``), the method, the hyper-parameters and the embedder's kind and
scalar settings. Both files are written to a temporary folder first and moved into place, so
a failure never leaves a half-written model. :func:`load_embedder` rebuilds it without
unpickling anything, refusing a foreign format, missing or extra arrays, and arrays that do
not fit together, each with the file named.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from gentleclip.baselines import get_baseline
    >>> from gentleclip.data.regimes import RegimeData
    >>> rng = np.random.default_rng(0)
    >>> data = RegimeData.from_arrays({"paired_a": rng.normal(size=(9, 5)),
    ...                                "paired_b": rng.normal(size=(9, 4))})
    >>> fitted = get_baseline("ridge").fit(data, {})
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_embedder(fitted, folder, method="ridge", params={})
    >>> loaded = load_embedder(folder)
    >>> bool((loaded.encode("a", data.paired_a) == fitted.encode("a", data.paired_a)).all())
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from gentleclip.baselines.base import SIDES, Standardizer
from gentleclip.baselines.closed_form import LinearEmbedder
from gentleclip.baselines.relrep import RelRepEmbedder
from gentleclip.data.io import read_json_object, write_folder_atomic, write_json_file
from gentleclip.errors import InputError

FORMAT = "gentleclip-baseline"
VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
KINDS: dict[str, type] = {"linear": LinearEmbedder, "relrep": RelRepEmbedder}


@dataclass(frozen=True)
class SavedBaseline:
    """A loaded baseline: the fitted map, its method and hyper-parameters."""

    embedder: LinearEmbedder | RelRepEmbedder
    method: str
    params: dict[str, Any]

    def input_dim(self, side: str) -> int:
        """Features a row of ``side`` must have; InputError for a side not ``"a"``/``"b"``."""
        if side not in SIDES:
            raise InputError(f"unknown side {side!r}; expected 'a' or 'b'")
        return int(self.embedder.standardizers[side].mean.shape[0])

    @property
    def dim(self) -> int:
        """Width of the shared space."""
        return self.embedder.dim

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        """(N, dim) L2-normalised float32 embeddings of raw rows of side ``"a"`` or ``"b"``."""
        return self.embedder.encode(side, x)


def _kind(embedder: object) -> str:
    for kind, cls in KINDS.items():
        if type(embedder) is cls:
            return kind
    raise InputError(f"cannot save a {type(embedder).__name__}: not a fitted baseline map")


def embedder_arrays(embedder: LinearEmbedder | RelRepEmbedder) -> tuple[dict, dict[str, Any]]:
    """``embedder``'s arrays by name (``field.side`` or ``field.side.mean``/``.std``) and its
    scalar fields."""
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for f in fields(embedder):
        value = getattr(embedder, f.name)
        if not isinstance(value, dict):
            scalars[f.name] = value
            continue
        for side, item in value.items():
            if isinstance(item, Standardizer):
                arrays[f"{f.name}.{side}.mean"] = np.ascontiguousarray(item.mean)
                arrays[f"{f.name}.{side}.std"] = np.ascontiguousarray(item.std)
            else:
                arrays[f"{f.name}.{side}"] = np.ascontiguousarray(item)
    return arrays, scalars


def save_embedder(
    embedder: LinearEmbedder | RelRepEmbedder,
    directory: str | os.PathLike[str],
    *,
    method: str,
    params: dict[str, Any],
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` of a fitted baseline into ``directory``
    (created if needed; both files moved into place only once fully written)."""
    arrays, scalars = embedder_arrays(embedder)
    config = {"format": FORMAT, "version": VERSION, "kind": _kind(embedder)}
    config.update(method=method, params=params, scalars=scalars)
    files = {
        WEIGHTS_NAME: lambda file: save_file(arrays, str(file)),
        CONFIG_NAME: lambda file: write_json_file(file, config),
    }
    return write_folder_atomic(directory, "the baseline", files)


def is_saved_baseline(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory/config.json`` names this module's format (False when unreadable)."""
    try:
        config = json.loads((Path(directory) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("format") == FORMAT


def load_embedder(directory: str | os.PathLike[str]) -> SavedBaseline:
    """Rebuild a baseline written by :func:`save_embedder`; InputError naming the file for a
    missing directory or file, a foreign format or version, or arrays that do not fit."""
    path = Path(directory)
    if not path.is_dir():
        raise InputError(f"model directory not found: {path}")
    config_file, weights_file = path / CONFIG_NAME, path / WEIGHTS_NAME
    config = read_json_object(config_file, "baseline config")
    if config.get("format") != FORMAT:
        raise InputError(f"{config_file}: format is {config.get('format')!r}, expected {FORMAT!r}")
    if config.get("version") != VERSION:
        raise InputError(f"{config_file}: unsupported version {config.get('version')!r}")
    kind = config.get("kind")
    if kind not in KINDS:
        raise InputError(f"{config_file}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if not weights_file.is_file():
        raise InputError(f"missing model weights file: {weights_file}")
    try:
        arrays = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"cannot read model weights {weights_file}: {err}") from err
    embedder = _rebuild(KINDS[kind], arrays, dict(config.get("scalars") or {}), weights_file)
    saved = SavedBaseline(embedder, str(config.get("method")), dict(config.get("params") or {}))
    _check_fits(saved, weights_file)
    return saved


def _rebuild(cls: type, arrays: dict[str, np.ndarray], scalars: dict, file: Path) -> Any:
    """``cls`` from the named arrays; every array used exactly once."""
    values: dict[str, Any] = {}
    used: set[str] = set()
    for f in fields(cls):
        if f.name in scalars:
            values[f.name] = scalars[f.name]
            continue
        by_side: dict[str, Any] = {}
        for side in SIDES:
            names = [f"{f.name}.{side}.mean", f"{f.name}.{side}.std"]
            if names[0] not in arrays:
                names = [f"{f.name}.{side}"]
            missing = [n for n in names if n not in arrays]
            if missing:
                raise InputError(f"{file}: missing array {missing[0]!r}")
            used.update(names)
            parts = [arrays[n] for n in names]
            by_side[side] = Standardizer(*parts) if len(parts) == 2 else parts[0]
        values[f.name] = by_side
    extra = sorted(set(arrays) - used)
    if extra:
        raise InputError(f"{file}: unexpected array {extra[0]!r}")
    unknown = sorted(set(scalars) - {f.name for f in fields(cls)})
    if unknown:
        raise InputError(f"{file}: unexpected setting {unknown[0]!r} in its config")
    return cls(**values)


def _check_fits(saved: SavedBaseline, file: Path) -> None:
    """Embed one zero row per side: arrays of mismatched shapes fail here, named."""
    widths = set()
    for side in SIDES:
        try:
            widths.add(saved.encode(side, np.zeros((1, saved.input_dim(side)))).shape[1])
        except (ValueError, IndexError, TypeError) as err:
            raise InputError(f"{file}: the side-{side} arrays do not fit together: {err}") from err
    if len(widths) != 1:
        raise InputError(f"{file}: the two sides embed to different widths {sorted(widths)}")
