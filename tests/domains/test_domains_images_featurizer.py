"""The ``efficientnet_lite0`` featurizer on tiny generated PNGs with random weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gentleclip.errors import InputError
from gentleclip.models.efficientnet_lite import EfficientNetLite
from gentleclip.models.featurizers import create_featurizer, featurize
from gentleclip.models.featurizers import image as image_module
from gentleclip.models.featurizers.image import load_rgb


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random-lite0.pth"
    torch.save(EfficientNetLite("lite0").state_dict(), path)
    return path


@pytest.fixture
def pngs(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        pixels = rng.integers(0, 256, size=(20 + 4 * i, 16, 4), dtype=np.uint8)
        path = tmp_path / f"img{i}.png"
        Image.fromarray(pixels, mode="RGBA").save(path)
        paths.append(path)
    return paths


def reference_input(path: Path, size: int) -> torch.Tensor:
    """Independent preprocessing: alpha-blend on white in numpy, PIL bilinear, [-1, 1]."""
    rgba = np.asarray(Image.open(path).convert("RGBA"), dtype=np.float64)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    image = Image.fromarray(np.round(rgb).astype(np.uint8), mode="RGB")
    resized = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return torch.from_numpy(resized / 127.5 - 1.0).permute(2, 0, 1)


def test_encode_matches_direct_model(weights: Path, pngs: list[Path]) -> None:
    featurizer = create_featurizer(
        "efficientnet_lite0", weights=weights, image_size=40, batch_size=2
    )
    out = featurizer.encode([str(pngs[0]), *pngs[1:]], progress=False)
    assert out.shape == (3, 1280) and out.dtype == np.float32
    model = EfficientNetLite("lite0", num_classes=None)
    state = torch.load(weights, weights_only=True)
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    with torch.no_grad():
        expected = model.eval()(torch.stack([reference_input(p, 40) for p in pngs])).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-3)


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[0, 0] = (10, 20, 30, 255)
    Image.fromarray(pixels, mode="RGBA").save(path)
    rgb = np.asarray(load_rgb(path))
    assert rgb.shape == (4, 4, 3)
    assert tuple(rgb[0, 0]) == (10, 20, 30)
    assert (rgb[1:] == 255).all()


def test_cache_key_uses_file_bytes_and_settings(weights: Path, pngs: list[Path]) -> None:
    small = create_featurizer("efficientnet_lite0", weights=weights, image_size=40)
    large = create_featurizer("efficientnet_lite0", weights=weights, image_size=48)
    assert small.item_bytes(str(pngs[0])) == pngs[0].read_bytes()
    assert small.cache_key(pngs) != large.cache_key(pngs)
    assert small.cache_key(pngs) != small.cache_key(pngs[::-1])


def test_cached_featurize_roundtrip(weights: Path, pngs: list[Path], tmp_path: Path) -> None:
    featurizer = create_featurizer("efficientnet_lite0", weights=weights, image_size=32)
    first = featurize(featurizer, pngs, cache_dir=tmp_path / "cache", progress=False)
    again = featurize(featurizer, pngs, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(first, again)
    assert len(list((tmp_path / "cache" / "efficientnet_lite0").iterdir())) == 1


def test_unreadable_image_is_named(weights: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    featurizer = create_featurizer("efficientnet_lite0", weights=weights, image_size=32)
    with pytest.raises(InputError, match=r"broken\.png"):
        featurizer.encode([bad], progress=False)
    with pytest.raises(InputError, match=r"absent\.png"):
        featurizer.item_bytes(tmp_path / "absent.png")


def test_missing_weights_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == image_module.WEIGHTS_PACKAGE else real_find_spec(name, *args)

    monkeypatch.setattr(image_module.importlib.util, "find_spec", find_spec)
    with pytest.raises(InputError, match="gentleclip data install emoji"):
        create_featurizer("efficientnet_lite0")


@pytest.mark.parametrize("options", [{"batch_size": 0}, {"image_size": 8}, {"colour": True}])
def test_bad_options(weights: Path, options: dict[str, object]) -> None:
    with pytest.raises(InputError):
        create_featurizer("efficientnet_lite0", weights=weights, **options)
