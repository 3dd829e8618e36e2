"""Raw-text augmentation for self-supervised views of the text side (pure Python).

Two perturbations on whitespace tokens: token dropout (each token dropped independently with
probability ``p``, never all of them) and shuffling word order within consecutive windows.
Output tokens are joined with single spaces, so runs of whitespace collapse. Randomness comes
only from the ``rng`` argument (``random.Random`` or ``numpy.random.Generator``), so a seeded
generator makes views reproducible.
"""

from __future__ import annotations

import math
import random

import numpy as np

from gentleclip.errors import InputError

Rng = random.Random | np.random.Generator


def token_dropout(text: str, p: float, rng: Rng) -> str:
    """``text`` with each whitespace token dropped with probability ``p`` (one always kept)."""
    _check_probability(p)
    tokens = text.split()
    if not tokens:
        return ""
    kept = [token for token in tokens if _uniform(rng) >= p]
    if not kept:
        kept = [tokens[_index(rng, len(tokens))]]
    return " ".join(kept)


def shuffle_within_window(text: str, window: int, rng: Rng) -> str:
    """``text`` with word order shuffled inside consecutive blocks of ``window`` tokens."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InputError(f"shuffle window must be a positive integer, got {window!r}")
    tokens = text.split()
    shuffled: list[str] = []
    for start in range(0, len(tokens), window):
        block = tokens[start : start + window]
        shuffled.extend(block[i] for i in _permutation(rng, len(block)))
    return " ".join(shuffled)


class TextAugment:
    """Token dropout then windowed shuffling; ``dropout=0`` / ``shuffle_window<=1`` disable."""

    def __init__(self, *, dropout: float = 0.1, shuffle_window: int = 1) -> None:
        _check_probability(dropout)
        if isinstance(shuffle_window, bool) or not isinstance(shuffle_window, int):
            raise InputError(f"shuffle_window must be an integer, got {shuffle_window!r}")
        if shuffle_window < 1:
            raise InputError(f"shuffle_window must be >= 1, got {shuffle_window}")
        self.dropout = float(dropout)
        self.shuffle_window = shuffle_window

    def __call__(self, text: str, rng: Rng) -> str:
        """One augmented view of ``text``."""
        if self.dropout > 0.0:
            text = token_dropout(text, self.dropout, rng)
        if self.shuffle_window > 1:
            text = shuffle_within_window(text, self.shuffle_window, rng)
        return text


def _check_probability(p: float) -> None:
    valid = isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p)
    if not valid or not 0.0 <= p < 1.0:
        raise InputError(f"token dropout probability must be in [0, 1), got {p!r}")


def _uniform(rng: Rng) -> float:
    """One draw from U[0, 1)."""
    return float(rng.random())


def _index(rng: Rng, n: int) -> int:
    """One uniform index in ``range(n)``."""
    if isinstance(rng, random.Random):
        return rng.randrange(n)
    return int(rng.integers(n))


def _permutation(rng: Rng, n: int) -> list[int]:
    """A uniform random permutation of ``range(n)``."""
    if isinstance(rng, random.Random):
        order = list(range(n))
        rng.shuffle(order)
        return order
    return [int(i) for i in rng.permutation(n)]
