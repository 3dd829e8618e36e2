"""Residue masking for protein sequences: a raw-input augmentation before featurizing.

Each residue is replaced by the unknown letter ``X`` independently with probability ``p``,
drawn from a seeded :class:`numpy.random.Generator`, so the same seed gives the same masks.
``X`` is in every protein featurizer's vocabulary (UniRep maps it to its unknown token,
NEAR to its own ``X`` slot), so masked sequences stay encodable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gentleclip.errors import InputError

MASK_LETTER = "X"


def mask_residues(
    sequences: Sequence[str], p: float, *, seed: int | np.random.Generator | None = None
) -> list[str]:
    """Copies of ``sequences`` with each residue replaced by ``X`` with probability ``p``."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise InputError(f"residue mask probability must be in [0, 1], got {p!r}")
    if isinstance(sequences, str):
        raise InputError("mask_residues expects a list of sequences, got a single string")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = []
    for row, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise InputError(f"sequence {row} must be a string, got {type(seq).__name__}")
        letters = np.array(list(seq), dtype="<U1")
        letters[rng.random(len(letters)) < p] = MASK_LETTER
        out.append("".join(letters.tolist()))
    return out
