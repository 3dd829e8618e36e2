"""Token dropout and windowed shuffling of raw text (gentleclip.models.augment_text)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.augment_text import TextAugment, shuffle_within_window, token_dropout

TEXT = " ".join(f"w{i}" for i in range(40))


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    items = iter(long)
    return all(token in items for token in short)


@pytest.mark.parametrize("rng", [random.Random(0), np.random.default_rng(0)])
def test_dropout_keeps_an_ordered_nonempty_subset(rng: random.Random) -> None:
    for _ in range(50):
        out = token_dropout(TEXT, 0.5, rng).split()
        assert 1 <= len(out) <= 40
        assert _is_subsequence(out, TEXT.split())


def test_dropout_rate_matches_p() -> None:
    rng = np.random.default_rng(1)
    kept = sum(len(token_dropout(TEXT, 0.3, rng).split()) for _ in range(500))
    rate = 1.0 - kept / (500 * 40)
    # binomial std over 20000 tokens is ~0.0032; allow 5 std
    assert abs(rate - 0.3) < 0.017


def test_dropout_never_empties_and_p_zero_only_normalises_spaces() -> None:
    rng = random.Random(2)
    outs = {token_dropout("a b c", 0.999, rng) for _ in range(200)}
    assert outs <= {"a", "b", "c", "a b", "a c", "b c", "a b c"}
    assert "" not in outs and len(outs) > 1
    assert token_dropout("  a   b\tc ", 0.0, rng) == "a b c"
    assert token_dropout("   ", 0.5, rng) == ""


def test_same_seed_same_view_different_seed_differs() -> None:
    first = token_dropout(TEXT, 0.4, random.Random(7))
    assert first == token_dropout(TEXT, 0.4, random.Random(7))
    others = {token_dropout(TEXT, 0.4, random.Random(s)) for s in range(8, 13)}
    assert others != {first}


@pytest.mark.parametrize("rng", [random.Random(3), np.random.default_rng(3)])
def test_shuffle_permutes_only_within_windows(rng: random.Random) -> None:
    tokens = TEXT.split()
    changed = False
    for _ in range(20):
        out = shuffle_within_window(TEXT, 5, rng).split()
        assert Counter(out) == Counter(tokens)
        for start in range(0, 40, 5):
            assert sorted(out[start : start + 5]) == sorted(tokens[start : start + 5])
        changed |= out != tokens
    assert changed


def test_shuffle_window_one_is_identity_and_last_window_may_be_short() -> None:
    rng = random.Random(4)
    assert shuffle_within_window("x y z", 1, rng) == "x y z"
    out = shuffle_within_window("a b c d e", 4, rng).split()
    assert out[4] == "e" and sorted(out[:4]) == ["a", "b", "c", "d"]


def test_text_augment_combines_both() -> None:
    augment = TextAugment(dropout=0.2, shuffle_window=3)
    out = augment(TEXT, random.Random(5)).split()
    assert 1 <= len(out) < 40 and set(out) <= set(TEXT.split())
    assert TextAugment(dropout=0.0, shuffle_window=1)(TEXT, random.Random(5)) == TEXT


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan"), True, "0.1"])
def test_bad_dropout_probability(p: object) -> None:
    with pytest.raises(InputError, match="probability"):
        token_dropout(TEXT, p, random.Random(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("window", [0, -2, 1.5, True])
def test_bad_window(window: object) -> None:
    with pytest.raises(InputError, match="window"):
        shuffle_within_window(TEXT, window, random.Random(0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="window"):
        TextAugment(shuffle_window=window)  # type: ignore[arg-type]
