"""Pixel-space augmentations for self-supervised views of raw images, in plain torch.

:class:`ImageAugment` applies, per image: a random resized crop (back to the input size),
a horizontal flip, and colour jitter (brightness, contrast, saturation, in that fixed order),
following the usual SimCLR-style recipe. Inputs are (N, 3, H, W) float tensors in [0, 1];
outputs have the same shape and range. Randomness comes from torch's global RNG, so
``torch.manual_seed`` makes views reproducible. In eval mode the module is the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gentleclip.errors import InputError

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as in PIL's "L" conversion


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def _randint(low: int, high: int) -> int:
    """Uniform integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, ()))


def crop_box(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop covering ``scale`` of the area at aspect ``ratio``.

    Ten tries as in torchvision's RandomResizedCrop; falls back to the whole image.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * _uniform(*scale)
        aspect = math.exp(_uniform(log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return _randint(0, height - h), _randint(0, width - w), h, w
    return 0, 0, height, width


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) luma of (N, 3, H, W) RGB images."""
    weights = images.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``factor * images + (1 - factor) * other`` clamped to [0, 1]; factor is per image."""
    factor = factor.view(-1, 1, 1, 1)
    return (factor * images + (1.0 - factor) * other).clamp(0.0, 1.0)


class ImageAugment(nn.Module):
    """Random resized crop + horizontal flip + colour jitter on (N, 3, H, W) images in [0, 1]."""

    def __init__(
        self,
        *,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        crop_ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip_prob: float = 0.5,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
    ) -> None:
        super().__init__()
        if not (0.0 < crop_scale[0] <= crop_scale[1] <= 1.0):
            raise InputError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        if not (0.0 < crop_ratio[0] <= crop_ratio[1]):
            raise InputError(f"crop_ratio must satisfy 0 < low <= high, got {crop_ratio}")
        if not 0.0 <= flip_prob <= 1.0:
            raise InputError(f"flip_prob must be in [0, 1], got {flip_prob}")
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if not 0.0 <= value < 1.0:
                raise InputError(f"{name} jitter must be in [0, 1), got {value}")
        if saturation < 0.0:
            raise InputError(f"saturation jitter must be >= 0, got {saturation}")
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.flip_prob = flip_prob
        self.jitter = {"brightness": brightness, "contrast": contrast, "saturation": saturation}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """An augmented copy of ``images`` in training mode; ``images`` itself in eval mode."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise InputError(f"ImageAugment expects (N, 3, H, W) images, got {tuple(images.shape)}")
        if not self.training:
            return images
        out = self.random_resized_crop(images)
        out = self.random_flip(out)
        return self.colour_jitter(out)

    def random_resized_crop(self, images: torch.Tensor) -> torch.Tensor:
        """Each image cropped at random and resized (bilinear) back to H x W."""
        height, width = images.shape[-2:]
        views = []
        for image in images:
            top, left, h, w = crop_box(height, width, self.crop_scale, self.crop_ratio)
            patch = image[None, :, top : top + h, left : left + w]
            views.append(F.interpolate(patch, size=(height, width), mode="bilinear"))
        return torch.cat(views) if views else images.clone()

    def random_flip(self, images: torch.Tensor) -> torch.Tensor:
        """Each image mirrored left-right with probability ``flip_prob``."""
        flip = (torch.rand(len(images)) < self.flip_prob).to(images.device)
        return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)

    def _factors(self, name: str, images: torch.Tensor) -> torch.Tensor:
        """Per-image factors uniform in [1 - strength, 1 + strength]."""
        strength = self.jitter[name]
        draws = torch.rand(len(images)).to(device=images.device, dtype=images.dtype)
        return 1.0 + strength * (2.0 * draws - 1.0)

    def colour_jitter(self, images: torch.Tensor) -> torch.Tensor:
        """Brightness (scale), contrast (towards mean luma), saturation (towards gray)."""
        out = (images * self._factors("brightness", images).view(-1, 1, 1, 1)).clamp(0.0, 1.0)
        mean_luma = grayscale(out).mean(dim=(1, 2, 3), keepdim=True)
        out = blend(out, mean_luma.expand_as(out), self._factors("contrast", out))
        return blend(out, grayscale(out).expand_as(out), self._factors("saturation", out))

    def extra_repr(self) -> str:
        return f"crop_scale={self.crop_scale}, flip_prob={self.flip_prob}, jitter={self.jitter}"
