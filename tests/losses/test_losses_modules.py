"""Loss modules: equality with the functional twins, learnable scale, input validation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.losses import (
    CLIPLoss,
    MKMMDLoss,
    NTXentLoss,
    SDDLoss,
    clip_loss,
    gather_with_grad,
    mk_mmd,
    ntxent_loss,
    sdd_and_mmd,
    sdd_loss,
)


def _rand(*shape: int, seed: int, unit: bool = False) -> Tensor:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if unit:
        x = torch.nn.functional.normalize(x, dim=1)
    return x.requires_grad_(True)


def _same_value_and_grad(got: Tensor, want: Tensor, inputs: list[Tensor]) -> None:
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    for g, w in zip(
        torch.autograd.grad(got, inputs), torch.autograd.grad(want, inputs), strict=True
    ):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_sdd_module_equals_functional() -> None:
    a, b = _rand(6, 3, seed=0), _rand(5, 3, seed=1)
    opts: dict[str, Any] = {
        "bandwidth": 0.3,
        "leave_one_out": True,
        "spread": "variance",
        "normalize": True,
    }
    _same_value_and_grad(SDDLoss(**opts)(a, b), sdd_loss(a, b, **opts), [a, b])


def test_mmd_module_equals_functional() -> None:
    a, b = _rand(6, 3, seed=2), _rand(5, 3, seed=3)
    opts: dict[str, Any] = {"multipliers": (0.5, 2.0), "unbiased": True}
    _same_value_and_grad(MKMMDLoss(**opts)(a, b), mk_mmd(a, b, **opts), [a, b])
    fixed: dict[str, Any] = {"bandwidths": (1.0, 3.0)}
    _same_value_and_grad(MKMMDLoss(**fixed)(a, b), mk_mmd(a, b, **fixed), [a, b])


def test_ntxent_module_equals_functional() -> None:
    z1, z2 = _rand(4, 3, seed=4), _rand(4, 3, seed=5)
    got = NTXentLoss(temperature=0.3)(z1, z2)
    _same_value_and_grad(got, ntxent_loss(z1, z2, temperature=0.3), [z1, z2])


def test_clip_module_equals_functional_and_extra_negatives_switch() -> None:
    a, b = _rand(4, 3, seed=6, unit=True), _rand(4, 3, seed=7, unit=True)
    ea, eb = _rand(2, 3, seed=8, unit=True), _rand(3, 3, seed=9, unit=True)
    inputs = [a, b, ea, eb]
    with_extra = CLIPLoss(temperature=0.1, extra_negatives=True)(a, b, ea, eb)
    _same_value_and_grad(
        with_extra, clip_loss(a, b, temperature=0.1, extra_a=ea, extra_b=eb), inputs
    )
    ignored = CLIPLoss(temperature=0.1)(a, b, ea, eb)
    torch.testing.assert_close(ignored, clip_loss(a, b, temperature=0.1), rtol=0, atol=0)
    assert with_extra.item() > ignored.item()


def test_clip_learnable_scale_replaces_temperature_and_is_clamped() -> None:
    a, b = _rand(4, 3, seed=10, unit=True), _rand(4, 3, seed=11, unit=True)
    loss_fn = CLIPLoss(temperature=0.9, learnable_scale=True, init_scale=20.0, max_scale=50.0)
    assert loss_fn.log_logit_scale is not None
    assert loss_fn.log_logit_scale.item() == pytest.approx(math.log(20.0))
    want = clip_loss(a.detach(), b.detach(), logit_scale=torch.tensor(20.0, dtype=torch.float64))
    torch.testing.assert_close(loss_fn(a, b), want, rtol=1e-6, atol=0)
    loss_fn(a, b).backward()
    assert loss_fn.log_logit_scale.grad is not None and loss_fn.log_logit_scale.grad.item() != 0.0

    loss_fn.log_logit_scale.grad = None
    with torch.no_grad():
        loss_fn.log_logit_scale.fill_(math.log(1000.0))
    scale = loss_fn.logit_scale()
    assert scale is not None and scale.item() == pytest.approx(50.0)
    loss_fn(a, b).backward()
    assert loss_fn.log_logit_scale.grad.item() == 0.0  # clamped: no gradient through max


def test_default_clip_has_no_parameters() -> None:
    assert list(CLIPLoss().parameters()) == []
    assert CLIPLoss().logit_scale() is None


def test_gather_without_process_group_is_identity() -> None:
    x = _rand(3, 2, seed=12)
    assert gather_with_grad(x) is x
    module = SDDLoss(gather_distributed=True)
    a, b = _rand(5, 2, seed=13), _rand(4, 2, seed=14)
    torch.testing.assert_close(module(a, b), sdd_loss(a, b), rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

_A = torch.randn(5, 3, dtype=torch.float64)
_B = torch.randn(4, 3, dtype=torch.float64)
_NAN = _A.clone().index_fill_(0, torch.tensor([1]), math.nan)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sdd_loss(_A[0], _B), "2-D"),
        (lambda: sdd_loss(_A, _B[:, :2]), "share dim"),
        (lambda: sdd_loss(_A[:1], _B), "at least 2"),
        (lambda: sdd_loss(_A, _B[:0]), "empty"),
        (lambda: sdd_loss(_NAN, _B), "NaN"),
        (lambda: sdd_loss(_A, _B, spread="iqr"), "spread"),
        (lambda: sdd_loss(_A, _B, bandwidth=0.0), "bandwidth"),
        (lambda: sdd_loss(_A, _B, bandwidth=math.nan), "bandwidth"),
        (lambda: sdd_loss(torch.ones(3, 3, dtype=torch.float64), _B), "zero variance"),
        (lambda: sdd_loss(_A.long(), _B), "floating-point"),
        (lambda: sdd_loss([[1.0]], _B), "torch.Tensor"),
        (lambda: mk_mmd(_A, _B[:0]), "empty"),
        (lambda: mk_mmd(_A, _B[:1], unbiased=True), "at least 2"),
        (lambda: mk_mmd(_A, _B, multipliers=(1.0, -2.0)), "multipliers"),
        (lambda: mk_mmd(_A, _B, multipliers=()), "multipliers"),
        (lambda: mk_mmd(_A, _B, bandwidths=[0.0]), "bandwidths"),
        (lambda: mk_mmd(_A, _B, bandwidths="1.0"), "bandwidths"),
        (lambda: mk_mmd(_A.float(), _B), "dtype"),
        (lambda: sdd_and_mmd(_A, _B, sdd={"bandwith": 1.0}), "bandwith"),
        (lambda: clip_loss(_A[:0], _B[:0]), "empty"),
        (lambda: clip_loss(_A, _B), "same shape"),
        (lambda: clip_loss(_A, _A, temperature=-1.0), "temperature"),
        (lambda: clip_loss(_A, _A, logit_scale=torch.ones(2)), "logit_scale"),
        (lambda: clip_loss(_A, _A, extra_b=_B[:, :2]), "extra_b"),
        (lambda: clip_loss(_A, _A, extra_a=_NAN), "extra_a"),
        (lambda: ntxent_loss(_A[:1], _A[:1]), "at least 2"),
        (lambda: ntxent_loss(_A, _B), "same shape"),
        (lambda: ntxent_loss(_A, _A, temperature=0), "temperature"),
    ],
)
def test_functional_validation(call: Callable[[], Tensor], match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: SDDLoss(spread="std"), "spread"),
        (lambda: SDDLoss(bandwidth=-1.0), "bandwidth"),
        (lambda: MKMMDLoss(multipliers=(0.0,)), "multipliers"),
        (lambda: MKMMDLoss(bandwidths=[]), "bandwidths"),
        (lambda: NTXentLoss(temperature=0.0), "temperature"),
        (lambda: CLIPLoss(temperature=True), "temperature"),
        (lambda: CLIPLoss(max_scale=0.0), "max_scale"),
        (lambda: CLIPLoss(init_scale=200.0, max_scale=100.0), "exceeds max_scale"),
    ],
)
def test_module_validation(build: Callable[[], torch.nn.Module], match: str) -> None:
    with pytest.raises(InputError, match=match):
        build()


def test_modules_reject_positional_hyperparameters() -> None:
    with pytest.raises(TypeError):
        SDDLoss(0.5)  # type: ignore[misc]
