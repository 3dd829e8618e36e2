from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import Featurizer, create_featurizer, featurize


class CountingFeaturizer(Featurizer):
    name = "test_counting"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.calls = 0

    @property
    def dim(self) -> int:
        return 3

    def settings(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        self.calls += 1
        return np.array([[len(s), s.count("a"), self.scale] for s in items], dtype=np.float32)


def test_second_run_with_same_inputs_skips_encoding(tmp_path: Path) -> None:
    featurizer = CountingFeaturizer()
    first = featurize(featurizer, ["abc", "aa"], cache_dir=tmp_path, progress=False)
    second = featurize(featurizer, ["abc", "aa"], cache_dir=tmp_path, progress=False)
    assert featurizer.calls == 1
    np.testing.assert_array_equal(first, second)
    files = list((tmp_path / "test_counting").iterdir())
    assert len(files) == 1 and files[0].suffix == ".safetensors"


def test_changed_inputs_or_settings_miss_the_cache(tmp_path: Path) -> None:
    featurizer = CountingFeaturizer()
    featurize(featurizer, ["abc", "aa"], cache_dir=tmp_path, progress=False)
    featurize(featurizer, ["abc", "ab"], cache_dir=tmp_path, progress=False)  # content changed
    featurize(featurizer, ["aa", "abc"], cache_dir=tmp_path, progress=False)  # order changed
    other = CountingFeaturizer(scale=2.0)
    out = featurize(other, ["abc", "aa"], cache_dir=tmp_path, progress=False)  # settings changed
    assert featurizer.calls == 3 and other.calls == 1 and out[0, 2] == 2.0


def test_corrupted_cache_entry_is_recomputed(tmp_path: Path) -> None:
    featurizer = CountingFeaturizer()
    featurize(featurizer, ["abc"], cache_dir=tmp_path, progress=False)
    (entry,) = (tmp_path / "test_counting").iterdir()
    entry.write_bytes(b"garbage")
    out = featurize(featurizer, ["abc"], cache_dir=tmp_path, progress=False)
    assert featurizer.calls == 2 and out.tolist() == [[3.0, 1.0, 1.0]]


def test_file_items_are_keyed_by_content(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("one")
    key1 = CountingFeaturizer().cache_key([path])
    path.write_text("two")
    assert CountingFeaturizer().cache_key([path]) != key1


def test_unknown_featurizer_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown featurizer 'nope'"):
        create_featurizer("nope")
