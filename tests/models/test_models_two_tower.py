"""TwoTower: config round trip, output dict, pair slices, SSL views, input validation."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from gentleclip.errors import InputError
from gentleclip.models import FeatureNorm, TowerConfig, TwoTower, TwoTowerConfig

Data = tuple[torch.Tensor, torch.Tensor]
DIM_A, DIM_B, EMBED = 6, 4, 5  # the ``config`` fixture's sizes (checked below)
BASE_KEYS = {"pair_a", "pair_b", "all_a", "all_b"}
FEATURE_KEYS = {"features_a", "features_b"}
VIEW_KEYS = {"view1_a", "view2_a", "view1_b", "view2_b"}


def test_fixture_sizes(config: TwoTowerConfig) -> None:
    assert (config.a.input_dim, config.b.input_dim, config.embed_dim) == (DIM_A, DIM_B, EMBED)


def test_config_round_trips_through_json(config: TwoTowerConfig) -> None:
    text = json.dumps(config.to_dict())
    again = TwoTowerConfig.from_dict(json.loads(text))
    assert again.to_dict() == config.to_dict()
    assert again.a.encoder_kwargs == {"hidden_dims": [12, 9], "dropout": 0.2}


def test_config_tuple_kwargs_become_lists() -> None:
    tower = TowerConfig("mlp", {"hidden_dims": (3, 2)}, 4)
    assert tower.to_dict()["encoder_kwargs"] == {"hidden_dims": [3, 2]}


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda d: d.update(embed_dims=3), "unknown key.*embed_dims"),
        (lambda d: d["a"].update(hidden=3), "unknown key.*hidden"),
        (lambda d: d.pop("b"), "tower 'b'"),
        (lambda d: d.update(embed_dim=0), "embed_dim"),
        (lambda d: d.update(head_dropout=1.5), "head_dropout"),
        (lambda d: d.update(augment={"noise": 0.1}), "augment.*noise"),
        (lambda d: d["a"].update(input_dim="6"), "input_dim"),
        (lambda d: d["b"].update(encoder=3), "encoder"),
    ],
)
def test_config_from_dict_rejects_bad_values(config: TwoTowerConfig, change, pattern: str) -> None:
    data = config.to_dict()
    change(data)
    with pytest.raises(InputError, match=pattern):
        TwoTowerConfig.from_dict(data)


def test_model_rejects_unset_input_dim(config: TwoTowerConfig) -> None:
    config.b.input_dim = 0
    with pytest.raises(InputError, match="'b' input_dim"):
        TwoTower(config)


def test_model_rejects_unknown_encoder(config: TwoTowerConfig) -> None:
    config.a.encoder = "nope"
    with pytest.raises(InputError, match="unknown encoder"):
        TwoTower(config)


def test_model_copies_its_config(config: TwoTowerConfig) -> None:
    model = TwoTower(config)
    config.embed_dim = 99
    assert model.config.embed_dim == EMBED


@pytest.mark.parametrize("ssl_views", [False, True])
def test_output_keys_shapes_and_unit_norm(
    config: TwoTowerConfig, data: Data, ssl_views: bool
) -> None:
    a, b = data
    out = TwoTower(config)(a, b, n_pairs=5, ssl_views=ssl_views)
    assert set(out) == (BASE_KEYS | VIEW_KEYS if ssl_views else BASE_KEYS) | FEATURE_KEYS
    shapes = {"a": a.shape[0], "b": b.shape[0]}
    model = TwoTower(config)
    for side, x in (("a", a), ("b", b)):  # the rows as the encoder receives them
        torch.testing.assert_close(out[f"features_{side}"], model.towers[side].norm(x))
    for key, emb in out.items():
        if key.startswith("features_"):
            continue
        rows = 5 if key.startswith("pair") else shapes[key[-1]]
        assert emb.shape == (rows, EMBED), key
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(rows), rtol=1e-5, atol=1e-5)


def test_pairs_are_slices_of_all(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    torch.manual_seed(0)
    out = TwoTower(config).train()(a, b, n_pairs=4)
    assert torch.equal(out["pair_a"], out["all_a"][:4])
    assert torch.equal(out["pair_b"], out["all_b"][:4])


def test_all_embeddings_equal_encode_in_eval(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config).eval()
    model.fit_normalization(a, b)
    out = model(a, b, n_pairs=3)
    torch.testing.assert_close(out["all_a"], model.encode("a", a))
    torch.testing.assert_close(out["all_b"], model.encode("b", b))


def test_zero_pairs_and_all_rows_paired(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config).eval()
    out = model(a, b, n_pairs=0)
    assert out["pair_a"].shape == (0, EMBED)
    assert out["pair_b"].shape == (0, EMBED)
    out = model(a[:7], b, n_pairs=7)
    assert torch.equal(out["pair_a"], out["all_a"])
    assert torch.equal(out["pair_b"], out["all_b"])


@pytest.mark.parametrize("n_pairs", [-1, 8, True, 2.0])
def test_bad_n_pairs(config: TwoTowerConfig, data: Data, n_pairs: object) -> None:
    a, b = data
    with pytest.raises(InputError, match="n_pairs"):
        TwoTower(config)(a, b, n_pairs=n_pairs)  # type: ignore[arg-type]


def test_ssl_views_differ_in_train_mode(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    torch.manual_seed(1)
    out = TwoTower(config).train()(a, b, n_pairs=2, ssl_views=True)
    for side in "ab":
        assert not torch.allclose(out[f"view1_{side}"], out[f"view2_{side}"])
        assert not torch.allclose(out[f"view1_{side}"], out[f"all_{side}"])


def test_ssl_views_equal_all_in_eval_mode(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    out = TwoTower(config).eval()(a, b, n_pairs=2, ssl_views=True)
    for side in "ab":
        assert torch.equal(out[f"view1_{side}"], out[f"all_{side}"])
        assert torch.equal(out[f"view2_{side}"], out[f"all_{side}"])


def test_ssl_views_come_from_augment_then_tower(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config).train()
    torch.manual_seed(5)
    out = model(a, b, n_pairs=2, ssl_views=True)
    torch.manual_seed(5)
    tower = model.towers["a"]
    z = tower.norm(a)
    expected_all = tower.embed(z)
    expected_view1 = tower.embed(tower.augment(z))
    torch.testing.assert_close(out["all_a"], expected_all)
    torch.testing.assert_close(out["view1_a"], expected_view1)


def test_encode_matches_manual_pipeline(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config).double().eval()
    model.fit_normalization(a, b)
    head = model.towers["b"].head
    x = b.double()
    z = (x - x.mean(0)) / x.std(0, unbiased=False)
    p = z @ head.projection.weight.T + head.projection.bias
    h = F.gelu(p) @ head.fc.weight.T + head.fc.bias + p
    h = (h - h.mean(1, keepdim=True)) / torch.sqrt(h.var(1, unbiased=False, keepdim=True) + 1e-5)
    h = h * head.layer_norm.weight + head.layer_norm.bias
    expected = h / h.norm(dim=1, keepdim=True)
    torch.testing.assert_close(model.encode("b", x), expected, rtol=1e-10, atol=1e-10)


def test_fit_normalization_sets_buffers(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config)
    model.fit_normalization(a, b)
    norm_a = model.towers["a"].norm
    assert isinstance(norm_a, FeatureNorm) and bool(norm_a.fitted)
    torch.testing.assert_close(norm_a.mean, a.mean(0))
    torch.testing.assert_close(model.towers["b"].norm.std, b.std(0, unbiased=False))


def test_without_input_normalization(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    config.normalize_inputs = False
    model = TwoTower(config).eval()
    model.fit_normalization(a, b)
    assert not any("norm.mean" in key for key in model.state_dict())
    tower = model.towers["a"]
    expected = F.normalize(tower.head(tower.encoder(a)), dim=-1)
    torch.testing.assert_close(model.encode("a", a), expected)


def test_gradients_reach_both_towers(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    model = TwoTower(config)
    out = model(a, b, n_pairs=4, ssl_views=True)
    (out["pair_a"] * out["pair_b"]).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_float64_inputs_are_cast_to_model_dtype(config: TwoTowerConfig, data: Data) -> None:
    a, _ = data
    model = TwoTower(config).eval()
    out = model.encode("a", a.double())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, model.encode("a", a))


@pytest.mark.parametrize(
    ("side", "x", "pattern"),
    [
        ("a", torch.randn(3, DIM_B), rf"side 'a'.*\(N, {DIM_A}\).*\(3, {DIM_B}\)"),
        ("b", torch.randn(3, DIM_A), rf"side 'b'.*\(N, {DIM_B}\).*\(3, {DIM_A}\)"),
        ("b", torch.randn(DIM_B), "side 'b'"),
        ("b", torch.ones(2, DIM_B, dtype=torch.int64), "floating"),
        ("a", torch.full((2, DIM_A), float("nan")), "NaN"),
        ("c", torch.randn(3, DIM_A), "unknown side 'c'"),
    ],
)
def test_encode_rejects_bad_input(
    config: TwoTowerConfig, side: str, x: torch.Tensor, pattern: str
) -> None:
    with pytest.raises(InputError, match=pattern):
        TwoTower(config).encode(side, x)


def test_forward_rejects_swapped_sides(config: TwoTowerConfig, data: Data) -> None:
    a, b = data
    with pytest.raises(InputError, match="side 'a'"):
        TwoTower(config)(b, a, n_pairs=2)


def test_encoder_expecting_raw_inputs_skips_standardisation() -> None:

    from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
    from gentleclip.models.encoders import create_encoder, register_encoder
    from gentleclip.models.normalize import FeatureNorm

    @register_encoder("test_raw_identity")
    def _raw(input_dim: int) -> torch.nn.Module:
        encoder = create_encoder("identity", input_dim)
        encoder.expects_raw_inputs = True
        return encoder

    config = TwoTowerConfig(
        a=TowerConfig(encoder="test_raw_identity", input_dim=3),
        b=TowerConfig(encoder="identity", input_dim=3),
        embed_dim=4,
    )
    model = TwoTower(config)
    assert not isinstance(model.towers["a"].norm, FeatureNorm)
    assert isinstance(model.towers["b"].norm, FeatureNorm)
