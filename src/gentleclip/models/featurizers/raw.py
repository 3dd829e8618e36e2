"""Raw-input "featurizers" for fine-tuning: rows the trainable pretrained encoders read.

When an encoder is fine-tuned (``--train-encoder``) the towers must see the raw inputs, not
frozen features. These featurizers turn raw items into fixed-width float rows, cached like any
other featurizer output, which the matching encoders in
:mod:`gentleclip.models.encoders.pretrained` reshape back:

- ``pixels``: image files -> ``(N, 3 * S * S)`` pixels in [-1, 1] (RGB, transparency on white,
  bilinear resize to ``S x S``, mean = std = 0.5), read by the ``efficientnet_lite0`` encoder.
- ``minilm_tokens``: strings -> ``(N, 2 * L)``: ``L`` WordPiece ids of all-MiniLM-L6-v2's
  tokenizer (truncated/padded to ``L``) followed by the ``L``-wide attention mask, both stored
  as float32 (exact for ids below 2**24), read by the ``minilm`` encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer

DEFAULT_IMAGE_SIZE = 64
DEFAULT_MAX_TOKENS = 32


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


class PixelFeaturizer(Featurizer):
    """Image files -> flattened ``(3, S, S)`` pixels normalised to [-1, 1]."""

    name = "pixels"
    version = "1"

    def __init__(self, *, image_size: int = DEFAULT_IMAGE_SIZE) -> None:
        self.image_size = _check_int(image_size, "pixels image_size", 16)

    @property
    def dim(self) -> int:
        return 3 * self.image_size * self.image_size

    def settings(self) -> dict[str, Any]:
        return {"image_size": self.image_size}

    def item_bytes(self, item: Any) -> bytes:
        try:
            return Path(item).read_bytes()
        except (OSError, TypeError) as err:
            raise InputError(f"cannot read image {item}: {err}") from err

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        from gentleclip.models.featurizers.image import image_tensor, load_rgb

        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, path in enumerate(tqdm(items, desc="pixels", unit="img", disable=not progress)):
            out[row] = image_tensor(load_rgb(path), self.image_size).reshape(-1).numpy()
        return out


class MiniLMTokenFeaturizer(Featurizer):
    """Strings -> ``[ids | attention mask]`` rows of width ``2 * max_tokens``."""

    name = "minilm_tokens"
    version = "1"

    def __init__(self, *, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self.max_tokens = _check_int(max_tokens, "minilm_tokens max_tokens", 4)

    @property
    def dim(self) -> int:
        return 2 * self.max_tokens

    def settings(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "tokenizer": "all-MiniLM-L6-v2"}

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        from gentleclip.models.featurizers.text import _check_texts, load_minilm

        texts = _check_texts(items)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokenizer = load_minilm().tokenizer
        batch = tokenizer(
            texts,
            padding="max_length",
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        ids, mask = batch["input_ids"], batch["attention_mask"]
        return torch.cat([ids, mask], dim=1).to(torch.float32).numpy()


@register_featurizer("pixels")
def _make_pixels(**kwargs: Any) -> PixelFeaturizer:
    return PixelFeaturizer(**kwargs)


@register_featurizer("minilm_tokens")
def _make_tokens(**kwargs: Any) -> MiniLMTokenFeaturizer:
    return MiniLMTokenFeaturizer(**kwargs)
