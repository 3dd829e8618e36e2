"""Pixel-space image augmentations for the self-supervised term."""

from __future__ import annotations

import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.models.augment_image import ImageAugment, blend, crop_box, grayscale

NEUTRAL = {"flip_prob": 0.0, "brightness": 0.0, "contrast": 0.0, "saturation": 0.0}


def images(n: int = 4, size: int = 12) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, 3, size, size, dtype=torch.float64)


def test_neutral_settings_are_identity() -> None:
    x = images()
    augment = ImageAugment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), **NEUTRAL)
    torch.testing.assert_close(augment(x), x)


def test_eval_mode_is_identity() -> None:
    x = images()
    assert ImageAugment().eval()(x) is x


def test_flip_always_mirrors() -> None:
    x = images()
    settings = {**NEUTRAL, "flip_prob": 1.0}
    augment = ImageAugment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), **settings)
    torch.testing.assert_close(augment(x), x.flip(-1))


def test_output_shape_range_and_seeded_reproducibility() -> None:
    x = images(size=16)
    augment = ImageAugment()
    torch.manual_seed(3)
    first = augment(x)
    torch.manual_seed(3)
    second = augment(x)
    torch.testing.assert_close(first, second)
    assert first.shape == x.shape and first.min() >= 0.0 and first.max() <= 1.0
    assert not torch.allclose(first, x)
    assert not torch.allclose(first, augment(x))  # a fresh draw differs


def test_blend_endpoints() -> None:
    x = images()
    gray = grayscale(x).expand_as(x)
    torch.testing.assert_close(blend(x, gray, torch.zeros(len(x), dtype=x.dtype)), gray)
    torch.testing.assert_close(blend(x, gray, torch.ones(len(x), dtype=x.dtype)), x)


def test_saturation_keeps_luma_per_pixel() -> None:
    x = images() * 0.2 + 0.4  # mid-range: no clamping at 1.9x saturation
    augment = ImageAugment(brightness=0.0, contrast=0.0, saturation=0.9)
    torch.manual_seed(4)
    out = augment.colour_jitter(x)
    assert not torch.allclose(out, x)
    torch.testing.assert_close(grayscale(out), grayscale(x))


def test_brightness_scales_within_bounds() -> None:
    x = images() * 0.5  # no clamping at the top
    augment = ImageAugment(brightness=0.2, contrast=0.0, saturation=0.0)
    torch.manual_seed(1)
    out = augment.colour_jitter(x)
    ratio = out / x
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))
    assert (per_image[:, 0] >= 0.8).all() and (per_image[:, 0] <= 1.2).all()


def test_contrast_keeps_mean_luma() -> None:
    x = images() * 0.5 + 0.25  # room so that clamping never bites at 1.4x contrast
    augment = ImageAugment(brightness=0.0, contrast=0.4, saturation=0.0)
    torch.manual_seed(2)
    out = augment.colour_jitter(x)
    torch.testing.assert_close(grayscale(out).mean(dim=(1, 2, 3)), grayscale(x).mean(dim=(1, 2, 3)))


def test_crop_box_within_bounds() -> None:
    torch.manual_seed(0)
    for _ in range(200):
        top, left, h, w = crop_box(20, 30, (0.1, 1.0), (0.5, 2.0))
        assert top >= 0 and left >= 0 and top + h <= 20 and left + w <= 30
        assert 0.1 * 600 * 0.8 <= h * w <= 600


@pytest.mark.parametrize(
    "options",
    [
        {"crop_scale": (0.0, 1.0)},
        {"crop_scale": (0.9, 0.5)},
        {"flip_prob": 1.5},
        {"brightness": 1.0},
    ],
)
def test_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(InputError):
        ImageAugment(**options)


def test_bad_shape() -> None:
    with pytest.raises(InputError, match="N, 3, H, W"):
        ImageAugment()(torch.rand(3, 8, 8))
