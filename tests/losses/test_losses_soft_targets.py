"""S-CLIP pseudo-label loss: Sinkhorn and soft cross-entropy against plain-loop references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gentleclip.errors import InputError
from gentleclip.losses import soft_targets
from gentleclip.losses.soft_targets import (
    PseudoLabelLoss,
    pseudo_label_loss,
    sinkhorn_plan,
    sinkhorn_plan_log,
    soft_cross_entropy,
)


def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=1)


def _sinkhorn_loop(cost: list[list[float]], eps: float, iterations: int) -> list[list[float]]:
    """Plain scaling-form Sinkhorn (u, v vectors, Python floats)."""
    m, n = len(cost), len(cost[0])
    kernel = [[math.exp(-c / eps) for c in row] for row in cost]
    v = [1.0] * n
    for _ in range(iterations):
        u = [(1.0 / m) / sum(kernel[i][j] * v[j] for j in range(n)) for i in range(m)]
        v = [(1.0 / n) / sum(kernel[i][j] * u[i] for i in range(m)) for j in range(n)]
    return [[u[i] * kernel[i][j] * v[j] for j in range(n)] for i in range(m)]


def _loss_loop(ua: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor, scale: float, eps: float):
    """Pseudo-label loss with loops: plan rows -> targets -> soft cross-entropy."""
    cost = [[1.0 - float(ua[i] @ pa[j]) for j in range(len(pa))] for i in range(len(ua))]
    plan = _sinkhorn_loop(cost, eps, 50)
    total = 0.0
    for i in range(len(ua)):
        logits = [scale * float(ua[i] @ pb[j]) for j in range(len(pb))]
        top = max(logits)
        log_z = top + math.log(sum(math.exp(x - top) for x in logits))
        row = sum(plan[i])
        total -= sum(plan[i][j] / row * (logits[j] - log_z) for j in range(len(pb)))
    return total / len(ua)


def test_sinkhorn_matches_loop_and_marginals() -> None:
    cost = 1.0 - _unit(6, 5, 0) @ _unit(4, 5, 1).T
    plan = sinkhorn_plan(cost, epsilon=0.2, iterations=50)
    reference = torch.tensor(_sinkhorn_loop(cost.tolist(), 0.2, 50), dtype=torch.float64)
    torch.testing.assert_close(plan, reference, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(plan.sum(0), torch.full((4,), 0.25, dtype=torch.float64))
    torch.testing.assert_close(plan.sum(1), torch.full((6,), 1 / 6, dtype=torch.float64))


@pytest.mark.parametrize(("m", "n", "eps"), [(6, 4, 0.2), (40, 3, 0.05), (2, 30, 0.01)])
def test_sinkhorn_scaling_form_equals_log_domain(m: int, n: int, eps: float) -> None:
    cost = 1.0 - _unit(m, 5, m) @ _unit(n, 5, n).T
    assert float(cost.max() - cost.min()) / eps <= soft_targets.SCALING_LIMIT
    plan = sinkhorn_plan(cost, epsilon=eps, iterations=50)
    torch.testing.assert_close(plan, sinkhorn_plan_log(cost, epsilon=eps, iterations=50))
    torch.testing.assert_close(plan.sum(0), torch.full((n,), 1 / n, dtype=torch.float64))


def test_sinkhorn_float32_input_gives_float32_plan_near_float64() -> None:
    cost = 1.0 - _unit(9, 5, 7) @ _unit(5, 5, 8).T
    plan = sinkhorn_plan(cost.float(), epsilon=0.1, iterations=50)
    assert plan.dtype == torch.float32
    torch.testing.assert_close(
        plan.double(), sinkhorn_plan_log(cost, epsilon=0.1), rtol=1e-5, atol=1e-7
    )


def test_sinkhorn_beyond_scaling_limit_uses_log_domain(monkeypatch) -> None:
    cost = torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=torch.float64)
    calls = []
    real = soft_targets._log_domain_plan
    monkeypatch.setattr(
        soft_targets, "_log_domain_plan", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    soft_targets.sinkhorn_plan(cost, epsilon=2.0 / 601, iterations=5)
    assert calls == [1]
    soft_targets.sinkhorn_plan(cost, epsilon=2.0 / 599, iterations=5)
    assert calls == [1]


def test_sinkhorn_small_epsilon_is_stable_and_prefers_cheap_cells() -> None:
    cost = torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=torch.float64)
    plan = sinkhorn_plan(cost, epsilon=1e-3, iterations=20)
    assert torch.isfinite(plan).all()
    torch.testing.assert_close(plan, torch.eye(2, dtype=torch.float64) / 2)


def test_soft_cross_entropy_equals_hard_ce_on_one_hot_targets() -> None:
    logits = torch.randn(5, 3, dtype=torch.float64)
    target = torch.tensor([0, 2, 1, 1, 0])
    torch.testing.assert_close(
        soft_cross_entropy(logits, F.one_hot(target, 3).double()), F.cross_entropy(logits, target)
    )


def test_pseudo_label_loss_value_and_gradient_match_loop() -> None:
    ua, pa, pb = _unit(7, 4, 2), _unit(5, 4, 3), _unit(5, 4, 4)
    ua.requires_grad_(True)
    pb.requires_grad_(True)
    loss = pseudo_label_loss(
        ua, pa, pb, temperature=0.5, epsilon=0.3, iterations=50, detach_targets=True
    )
    expected = _loss_loop(ua.detach(), pa, pb.detach(), 2.0, 0.3)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-9)
    loss.backward()
    # finite differences of the loop reference (targets fixed at ua's plan, as in the loss)
    step, i, k = 1e-6, 3, 1
    with torch.no_grad():
        cost = (1.0 - ua @ pa.T).tolist()
        plan = torch.tensor(_sinkhorn_loop(cost, 0.3, 50), dtype=torch.float64)
        targets = plan / plan.sum(1, keepdim=True)

    def fixed_target_loss(u: torch.Tensor) -> float:
        return float(-(targets * F.log_softmax(2.0 * u @ pb.detach().T, dim=1)).sum(1).mean())

    bumped = ua.detach().clone()
    bumped[i, k] += step
    lowered = ua.detach().clone()
    lowered[i, k] -= step
    numeric = (fixed_target_loss(bumped) - fixed_target_loss(lowered)) / (2 * step)
    assert float(ua.grad[i, k]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    assert pb.grad is not None and float(pb.grad.abs().sum()) > 0


def test_detached_targets_carry_no_gradient_into_paired_a() -> None:
    ua, pa, pb = _unit(4, 3, 5), _unit(3, 3, 6), _unit(3, 3, 7)
    ua.requires_grad_(True)
    pa.requires_grad_(True)
    pseudo_label_loss(ua, pa, pb, detach_targets=True).backward()
    assert pa.grad is None and ua.grad is not None
    pseudo_label_loss(ua, pa, pb).backward()  # the default, as S-CLIP's code: through the plan
    assert pa.grad is not None and float(pa.grad.abs().sum()) > 0


def test_undetached_targets_keep_the_value_and_differentiate_the_whole_loop() -> None:
    """``detach_targets=False`` (the default, as S-CLIP's code): the gradient is the finite
    difference of the loop reference with the plan recomputed, in ``unpaired_a`` and
    ``pair_a``."""
    ua, pa, pb = _unit(6, 4, 11), _unit(4, 4, 12), _unit(4, 4, 13)
    for x in (ua, pa):
        x.requires_grad_(True)
    kwargs = {"temperature": 0.5, "epsilon": 0.3, "iterations": 50}
    loss = pseudo_label_loss(ua, pa, pb, detach_targets=False, **kwargs)
    detached = pseudo_label_loss(ua, pa, pb, detach_targets=True, **kwargs)
    torch.testing.assert_close(loss, detached)
    loss.backward()
    step = 1e-6
    for x, (i, k) in ((ua, (2, 1)), (pa, (3, 0))):
        moved = []
        for sign in (1, -1):
            y = x.detach().clone()
            y[i, k] += sign * step
            inputs = (y, pa.detach()) if x is ua else (ua.detach(), y)
            moved.append(_loss_loop(*inputs, pb, 2.0, 0.3))
        numeric = (moved[0] - moved[1]) / (2 * step)
        assert float(x.grad[i, k]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    fixed_ua = ua.detach().clone().requires_grad_(True)
    pseudo_label_loss(fixed_ua, pa.detach(), pb, detach_targets=True, **kwargs).backward()
    assert not torch.allclose(fixed_ua.grad, ua.grad)


def test_module_matches_functional_and_uses_logit_scale() -> None:
    ua, pa, pb = _unit(6, 4, 8), _unit(4, 4, 9), _unit(4, 4, 10)
    module = PseudoLabelLoss(temperature=0.1, epsilon=0.2, iterations=30)
    expected = pseudo_label_loss(ua, pa, pb, temperature=0.1, epsilon=0.2, iterations=30)
    torch.testing.assert_close(module(ua, pa, pb), expected)
    scaled = module(ua, pa, pb, logit_scale=torch.tensor(10.0, dtype=torch.float64))
    torch.testing.assert_close(scaled, expected)
    assert "epsilon=0.2" in repr(module)


def test_tensor_epsilon_keeps_the_value_and_gets_the_loop_gradient() -> None:
    """A tensor epsilon (S-CLIP's ``1 / logit_scale``) gives the float epsilon's value and a
    gradient equal to the finite difference of the loop reference in epsilon."""
    ua, pa, pb = _unit(6, 4, 14), _unit(4, 4, 15), _unit(4, 4, 16)
    eps = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    kwargs = {"temperature": 0.5, "iterations": 50}
    loss = pseudo_label_loss(ua, pa, pb, epsilon=eps, **kwargs)
    torch.testing.assert_close(loss, pseudo_label_loss(ua, pa, pb, epsilon=0.3, **kwargs))
    loss.backward()
    step = 1e-6
    moved = [_loss_loop(ua, pa, pb, 2.0, 0.3 + sign * step) for sign in (1, -1)]
    numeric = (moved[0] - moved[1]) / (2 * step)
    assert abs(numeric) > 1e-4  # the plan does depend on epsilon here
    assert float(eps.grad) == pytest.approx(numeric, rel=1e-5)
    log_domain = sinkhorn_plan_log(1.0 - ua @ pa.T, epsilon=eps, iterations=50)
    torch.testing.assert_close(
        log_domain, sinkhorn_plan(1.0 - ua @ pa.T, epsilon=0.3, iterations=50)
    )


def test_module_epsilon_from_scale_follows_the_logit_scale() -> None:
    """``epsilon_from_scale``: epsilon = 1 / logit_scale (S-CLIP's ``reg``), differentiated
    through both uses of the scale; the temperature without a scale; ``epsilon`` unused."""
    ua, pa, pb = _unit(6, 4, 17), _unit(4, 4, 18), _unit(4, 4, 19)
    module = PseudoLabelLoss(temperature=0.25, epsilon=0.9, iterations=50, epsilon_from_scale=True)
    scale = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    loss = module(ua, pa, pb, logit_scale=scale)
    expected = pseudo_label_loss(ua, pa, pb, logit_scale=scale, epsilon=0.2, iterations=50)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    step = 1e-6
    moved = [_loss_loop(ua, pa, pb, 5.0 + d, 1 / (5.0 + d)) for d in (step, -step)]
    assert float(scale.grad) == pytest.approx((moved[0] - moved[1]) / (2 * step), rel=1e-5)
    unscaled = pseudo_label_loss(ua, pa, pb, temperature=0.25, epsilon=0.25, iterations=50)
    torch.testing.assert_close(module(ua, pa, pb), unscaled)
    assert "epsilon_from_scale=True" in repr(module)


@pytest.mark.parametrize(
    "epsilon", [torch.tensor(0.0), torch.tensor([0.1, 0.2]), torch.tensor(float("nan"))]
)
def test_bad_tensor_epsilon_raises(epsilon: torch.Tensor) -> None:
    ua, pa = _unit(3, 4, 20), _unit(3, 4, 21)
    with pytest.raises(InputError, match="epsilon"):
        pseudo_label_loss(ua, pa, pa, epsilon=epsilon)


@pytest.mark.parametrize(
    ("kwargs", "shapes"),
    [
        ({}, ((3, 4), (1, 4), (1, 4))),  # one pair only
        ({}, ((3, 4), (3, 5), (3, 5))),  # width mismatch
        ({}, ((3, 4), (3, 4), (2, 4))),  # pairs of unequal rows
        ({"epsilon": 0.0}, ((3, 4), (3, 4), (3, 4))),
        ({"iterations": 0}, ((3, 4), (3, 4), (3, 4))),
    ],
)
def test_bad_inputs_raise(kwargs: dict, shapes: tuple) -> None:
    tensors = [torch.randn(*shape) for shape in shapes]
    with pytest.raises(InputError):
        pseudo_label_loss(*tensors, **kwargs)
