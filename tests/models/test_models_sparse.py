"""SparseInputLinear: the dense layer's map and gradients from the non-zero entries alone."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentleclip.errors import InputError
from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
from gentleclip.models.sparse import SparseInputLinear, sparse_linear


def _sparse_rows(rows: int, width: int, density: float, seed: int = 0) -> torch.Tensor:
    """Rows with about ``density`` of their entries non-zero (some of them not 1), and one row
    left all zero."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(rows, width, generator=gen) < density
    x = mask * torch.where(torch.rand(rows, width, generator=gen) < 0.5, 1.0, 2.5)
    x[1] = 0.0
    return x.float()


def _loop_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``y[i, o] = b[o] + sum_j x[i, j] W[o, j]``, written out entry by entry."""
    rows = []
    for i in range(x.shape[0]):
        cols = []
        for o in range(weight.shape[0]):
            total = bias[o]
            for j in range(x.shape[1]):
                total = total + x[i, j] * weight[o, j]
            cols.append(total)
        rows.append(torch.stack(cols))
    return torch.stack(rows)


@pytest.mark.parametrize("x_grad", [False, True])
def test_value_and_gradients_equal_the_loop_reference(x_grad: bool) -> None:
    torch.manual_seed(0)
    dense = nn.Linear(12, 4)
    layer = SparseInputLinear.from_linear(dense, max_density=1.0)
    x = _sparse_rows(5, 12, 0.2).requires_grad_(x_grad)
    out = layer(x)
    upstream = torch.randn(5, 4)
    (out * upstream).sum().backward()
    x_ref = x.detach().clone().requires_grad_(x_grad)
    weight = dense.weight.detach().clone().requires_grad_()
    bias = dense.bias.detach().clone().requires_grad_()
    ref = _loop_reference(x_ref, weight, bias)
    (ref * upstream).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(layer.weight_t.grad.t(), weight.grad)
    torch.testing.assert_close(layer.bias.grad, bias.grad)
    if x_grad:
        torch.testing.assert_close(x.grad, x_ref.grad)


def test_gradients_equal_the_dense_layer_s_at_fingerprint_shapes() -> None:
    """52 rows of 2,048 entries with 40 set (many columns set in several rows, most in none):
    the weight gradient, a bag sum over columns, is the dense layer's up to summation order."""
    torch.manual_seed(3)
    x = torch.zeros(52, 2048)
    for row in x:
        row[torch.randperm(2048)[:40]] = torch.where(torch.rand(40) < 0.5, 1.0, 3.0)
    dense = nn.Linear(2048, 64)
    layer = SparseInputLinear.from_linear(dense)
    upstream = torch.randn(52, 64)
    (layer(x) * upstream).sum().backward()
    (dense(x) * upstream).sum().backward()
    assert type(layer(x).grad_fn).__name__.startswith("_SparseLinear")
    torch.testing.assert_close(layer.weight_t.grad.t(), dense.weight.grad)
    torch.testing.assert_close(layer.bias.grad, dense.bias.grad)
    assert torch.count_nonzero(dense.weight.grad.abs().sum(0)) < 2048  # columns never set


def _path(out: torch.Tensor) -> str:
    """Which product made ``out`` (its weight needs a gradient): the autograd node's name."""
    return "sparse" if type(out.grad_fn).__name__.startswith("_SparseLinear") else "dense"


def test_sparse_path_is_taken_up_to_max_density_and_dense_beyond() -> None:
    torch.manual_seed(1)
    weight_t, bias = torch.randn(40, 6).requires_grad_(), torch.randn(6)
    x = _sparse_rows(8, 40, 0.04)
    dense_out = F.linear(x, weight_t.t(), bias)
    density = float(torch.count_nonzero(x)) / x.numel()
    sparse_out = sparse_linear(x, weight_t, bias, max_density=density)
    assert _path(sparse_out) == "sparse"
    torch.testing.assert_close(sparse_out, dense_out)
    beyond = sparse_linear(x, weight_t, bias, max_density=density / 2)
    assert _path(beyond) == "dense"
    assert torch.equal(beyond, dense_out)
    zeros = torch.zeros(3, 40)
    assert torch.equal(sparse_linear(zeros, weight_t, bias), bias.expand(3, -1))
    assert torch.equal(sparse_linear(zeros, weight_t), torch.zeros(3, 6))


def test_state_dict_is_nn_linear_s_both_ways() -> None:
    torch.manual_seed(2)
    dense = nn.Linear(10, 3)
    rng = torch.get_rng_state()
    layer = SparseInputLinear.from_linear(dense)
    assert torch.equal(torch.get_rng_state(), rng)  # no random numbers drawn
    state = layer.state_dict()
    assert list(state) == ["weight", "bias"] and state["weight"].shape == (3, 10)
    assert [name for name, _ in layer.named_parameters()] == ["weight_t", "bias"]
    x = _sparse_rows(4, 10, 0.2)
    fresh_dense, fresh_sparse = nn.Linear(10, 3), SparseInputLinear(10, 3)
    fresh_dense.load_state_dict(state)
    fresh_sparse.load_state_dict(dense.state_dict())
    torch.testing.assert_close(fresh_dense(x), dense(x), rtol=0, atol=0)
    torch.testing.assert_close(fresh_sparse(x), dense(x))
    with pytest.raises(RuntimeError, match="weight_t"):
        fresh_sparse.load_state_dict({"bias": state["bias"]})


def test_fused_adamw_updates_it_as_the_dense_weight_through_a_resume() -> None:
    """The optimiser's state lives in the layer's own contiguous (in, out) layout, so fused
    AdamW given the same gradients moves it as it moves a dense weight, also after both
    layers and optimisers are saved and loaded again (a resume)."""
    torch.manual_seed(3)
    dense = nn.Linear(30, 5)
    layer = SparseInputLinear.from_linear(dense)

    def optimiser(module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(module.parameters(), lr=0.05, fused=True)

    optims = [optimiser(dense), optimiser(layer)]
    for step in range(6):
        if step == 3:  # resume both from their saved states
            pairs = zip((dense, layer), optims, strict=True)
            saved = [(m.state_dict(), o.state_dict()) for m, o in pairs]
            dense, layer = nn.Linear(30, 5), SparseInputLinear(30, 5)
            optims = [optimiser(dense), optimiser(layer)]
            for module, optim, (weights, state) in zip((dense, layer), optims, saved, strict=True):
                module.load_state_dict(weights)
                optim.load_state_dict(state)
        for optim in optims:
            optim.zero_grad()
        layer(_sparse_rows(6, 30, 0.03, seed=step)).square().sum().backward()
        dense.weight.grad = layer.weight_t.grad.t().contiguous()
        dense.bias.grad = layer.bias.grad.clone()
        for optim in optims:
            optim.step()
    assert layer.weight_t.is_contiguous()
    torch.testing.assert_close(layer.weight, dense.weight, rtol=0, atol=0)
    torch.testing.assert_close(layer.bias, dense.bias, rtol=0, atol=0)


def test_bad_inputs_and_options_are_input_errors() -> None:
    layer = SparseInputLinear(5, 2)
    with pytest.raises(InputError, match=r"inputs \(N, 5\), got \(3, 4\)"):
        layer(torch.zeros(3, 4))
    with pytest.raises(InputError, match="max_density must be in"):
        SparseInputLinear(5, 2, max_density=1.5)
    with pytest.raises(InputError, match="max_density must be a number"):
        SparseInputLinear(5, 2, max_density=float("nan"))


def _towers(normalize: bool = False) -> TwoTowerConfig:
    return TwoTowerConfig(
        a=TowerConfig("identity", {}, 20),
        b=TowerConfig("mlp", {"hidden_dims": [8]}, 16),
        embed_dim=4,
        normalize_inputs=normalize,
    )


def test_two_tower_computes_the_first_layer_of_named_sides_sparsely(tmp_path) -> None:
    torch.manual_seed(4)
    model = TwoTower(_towers()).eval()
    dense = TwoTower(_towers()).eval()
    dense.load_state_dict(model.state_dict())
    model.use_sparse_inputs(["a", "b"])
    assert model.sparse_sides() == ["a", "b"] and dense.sparse_sides() == []
    assert isinstance(model.towers["a"].head.projection, SparseInputLinear)
    assert isinstance(model.towers["b"].encoder.layers[0], SparseInputLinear)
    a, b = _sparse_rows(6, 20, 0.05), _sparse_rows(6, 16, 0.05)
    for side, x in (("a", a), ("b", b)):
        torch.testing.assert_close(model.encode(side, x), dense.encode(side, x))
    model.save_pretrained(tmp_path / "model")
    loaded = TwoTower.from_pretrained(tmp_path / "model")  # dense layers, same weights
    assert loaded.sparse_sides() == []
    torch.testing.assert_close(loaded.encode("a", a), model.encode("a", a))


def test_two_tower_refuses_standardised_inputs_and_other_encoders() -> None:
    with pytest.raises(InputError, match=r"standardised.*normalize_inputs: false"):
        TwoTower(_towers(normalize=True)).use_sparse_inputs(["a"])
    with pytest.raises(InputError, match="unknown side 'c'"):
        TwoTower(_towers()).use_sparse_inputs(["c"])
    config = _towers()
    config.a = TowerConfig("residue_attention", {"channels": 4, "hidden": 8}, 20)
    model = TwoTower(config)
    with pytest.raises(InputError, match="identity or mlp encoder"):
        model.use_sparse_inputs(["a"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_it_computes_what_the_cpu_dense_layer_computes() -> None:
    torch.manual_seed(5)
    dense = nn.Linear(300, 16)
    layer = SparseInputLinear.from_linear(copy.deepcopy(dense).cuda())
    assert layer.weight_t.is_cuda and layer.bias is not None and layer.bias.is_cuda
    x = _sparse_rows(32, 300, 0.02)
    out = layer(x.cuda())
    out.square().sum().backward()
    ref = dense(x)
    ref.square().sum().backward()
    torch.testing.assert_close(out.detach().cpu(), ref.detach(), rtol=1e-5, atol=1e-6)
    assert layer.weight_t.grad is not None and dense.weight.grad is not None
    torch.testing.assert_close(layer.weight_t.grad.t().cpu(), dense.weight.grad)
