"""Bag-level InfoNCE: loop reference (value and gradient), closed forms, module, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.losses import BagCLIPLoss, bag_clip_loss
from gentleclip.losses.functional import bag_mean_embeddings, common_bag_ids


def _reference(a: Tensor, b: Tensor, bags_a: list[int], bags_b: list[int], t: float) -> Tensor:
    """The docstring's formula, one bag and one logit at a time."""
    common = sorted(set(bags_a) & set(bags_b))

    def mean_of(z: Tensor, bags: list[int], k: int) -> Tensor:
        rows = [z[i] for i in range(len(bags)) if bags[i] == k]
        total = rows[0]
        for row in rows[1:]:
            total = total + row
        mean = total / len(rows)
        return mean / torch.sqrt((mean * mean).sum())

    m_a = [mean_of(a, bags_a, k) for k in common]
    m_b = [mean_of(b, bags_b, k) for k in common]
    total = a.new_zeros(())
    for queries, keys in ((m_a, m_b), (m_b, m_a)):
        for i, q in enumerate(queries):
            logits = [(q * key).sum() / t for key in keys]
            log_norm = torch.logsumexp(torch.stack(logits), dim=0)
            total = total + (log_norm - logits[i])
    return total / (2 * len(common))


def _case(seed: int = 0) -> tuple[Tensor, Tensor, list[int], list[int]]:
    gen = torch.Generator().manual_seed(seed)
    bags_a = [2, 0, 1, 1, 7, 0, 2, 2, 5]  # bag 5 has A rows only
    bags_b = [1, 0, 2, 0, 1, 9, 2, 7]  # bag 9 has B rows only
    a = F.normalize(torch.randn(len(bags_a), 5, generator=gen, dtype=torch.float64), dim=1)
    b = F.normalize(torch.randn(len(bags_b), 5, generator=gen, dtype=torch.float64), dim=1)
    return a, b, bags_a, bags_b


@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0])
def test_value_and_gradient_match_loop_reference(temperature: float) -> None:
    a, b, bags_a, bags_b = _case()
    got_a, got_b = a.clone().requires_grad_(), b.clone().requires_grad_()
    ref_a, ref_b = a.clone().requires_grad_(), b.clone().requires_grad_()
    got = bag_clip_loss(
        got_a, got_b, torch.tensor(bags_a), torch.tensor(bags_b), temperature=temperature
    )
    want = _reference(ref_a, ref_b, bags_a, bags_b, temperature)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    got.backward()
    want.backward()
    torch.testing.assert_close(got_a.grad, ref_a.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_b.grad, ref_b.grad, rtol=1e-10, atol=1e-12)
    # rows of bags present on one side only get no gradient
    assert float(got_a.grad[8].abs().sum()) == 0.0
    assert float(got_b.grad[5].abs().sum()) == 0.0


def test_closed_forms() -> None:
    # each bag's rows all equal one direction, the same on both sides: a near-zero loss
    ids = torch.tensor([0, 0, 1, 1, 1, 2])
    dirs = torch.eye(3, dtype=torch.float64)
    z = dirs[ids]
    assert float(bag_clip_loss(z, z.flip(0), ids, ids.flip(0), temperature=0.01)) < 1e-40
    # every bag has the same mean: every logit is equal, the loss is log K
    same = F.normalize(torch.ones(6, 3, dtype=torch.float64), dim=1)
    loss = bag_clip_loss(same, same, ids, ids, temperature=0.1)
    assert math.isclose(float(loss), math.log(3), rel_tol=1e-12)


def test_order_of_rows_within_a_side_does_not_matter() -> None:
    a, b, bags_a, bags_b = _case(1)
    perm = torch.randperm(len(bags_a), generator=torch.Generator().manual_seed(3))
    ids_a, ids_b = torch.tensor(bags_a), torch.tensor(bags_b)
    base = bag_clip_loss(a, b, ids_a, ids_b)
    torch.testing.assert_close(bag_clip_loss(a[perm], b, ids_a[perm], ids_b), base)


def test_bag_means_and_common_ids() -> None:
    z = torch.tensor([[3.0, 0.0], [1.0, 2.0], [0.0, -5.0]])
    ids = torch.tensor([4, 4, 1])
    means = bag_mean_embeddings(z, ids, torch.tensor([1, 4]))
    torch.testing.assert_close(
        means, torch.tensor([[0.0, -1.0], [2.0 / math.sqrt(5.0), 1.0 / math.sqrt(5.0)]])
    )
    assert common_bag_ids(torch.tensor([3, 1, 3, 2]), torch.tensor([2, 5, 3])).tolist() == [2, 3]
    with pytest.raises(InputError, match="no row"):
        bag_mean_embeddings(z, ids, torch.tensor([2]))


def test_module_equals_functional_and_usable() -> None:
    a, b, bags_a, bags_b = _case(2)
    ids_a, ids_b = torch.tensor(bags_a), torch.tensor(bags_b)
    module = BagCLIPLoss(temperature=0.3)
    torch.testing.assert_close(
        module(a, b, ids_a, ids_b), bag_clip_loss(a, b, ids_a, ids_b, temperature=0.3)
    )
    assert module.usable(ids_a, ids_b)
    assert not module.usable(torch.tensor([0, 0, 1]), torch.tensor([1, 2]))
    assert "temperature=0.3" in repr(module)


def test_loss_if_usable_gathers_each_side_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import gentleclip.losses.bag_clip as bag_clip

    gathered: list[Tensor] = []

    def counting(values: Tensor) -> Tensor:
        gathered.append(values)
        return values

    monkeypatch.setattr(bag_clip, "gather_values", counting)
    a, b, bags_a, bags_b = _case(2)
    ids_a, ids_b = torch.tensor(bags_a), torch.tensor(bags_b)
    module = BagCLIPLoss(temperature=0.3, gather_distributed=True)
    loss = module.loss_if_usable(a, b, ids_a, ids_b)
    assert loss is not None and len(gathered) == 2
    torch.testing.assert_close(loss, bag_clip_loss(a, b, ids_a, ids_b, temperature=0.3))
    one_common = module.loss_if_usable(a[:3], b[:2], torch.tensor([0, 0, 1]), torch.tensor([1, 2]))
    assert one_common is None and len(gathered) == 4


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a, i: bag_clip_loss(a, a, i, i, temperature=0.0), "temperature"),
        (lambda a, i: bag_clip_loss(a, a, i[:-1], i), r"bags_a must have shape \(6,\)"),
        (lambda a, i: bag_clip_loss(a, a, i.double(), i), "integer bag ids"),
        (lambda a, i: bag_clip_loss(a, a[:, :2], i, i), "share dim"),
        (lambda a, i: bag_clip_loss(a, a, i * 0, i * 0), "at least 2 bags"),
        (lambda a, i: bag_clip_loss(a, a, i, i + 10), "at least 2 bags"),
        (lambda a, i: bag_clip_loss(a * float("nan"), a, i, i), "NaN"),
    ],
)
def test_errors_name_the_problem(call, match: str) -> None:  # type: ignore[no-untyped-def]
    a = F.normalize(torch.randn(6, 3), dim=1)
    ids = torch.tensor([0, 0, 1, 1, 2, 2])
    with pytest.raises(InputError, match=match):
        call(a, ids)


def test_module_rejects_bad_hyperparameters() -> None:
    with pytest.raises(InputError, match="temperature"):
        BagCLIPLoss(temperature=-1.0)
    with pytest.raises(TypeError):
        BagCLIPLoss(0.1)  # type: ignore[misc]
