"""FeatureNorm, ProjectionHead, AttentionPooling and FeatureAugment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gentleclip.errors import InputError
from gentleclip.models import AttentionPooling, FeatureAugment, FeatureNorm, ProjectionHead

# ---------------------------------------------------------------- FeatureNorm


def test_feature_norm_is_identity_before_fit() -> None:
    norm = FeatureNorm(3)
    x = torch.randn(4, 3)
    assert not bool(norm.fitted)
    torch.testing.assert_close(norm(x), x)


def test_feature_norm_fit_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=(50, 4))
    norm = FeatureNorm(4).double().fit(torch.from_numpy(x))
    assert bool(norm.fitted)
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(norm.std.numpy(), x.std(axis=0), rtol=1e-12)
    z = norm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(z, (x - x.mean(0)) / x.std(0), rtol=1e-10, atol=1e-12)


def test_feature_norm_constant_column_is_safe() -> None:
    x = torch.tensor([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], dtype=torch.float64)
    norm = FeatureNorm(2).double().fit(x)
    assert norm.std[1].item() == 1.0
    z = norm(torch.tensor([[3.0, 9.0]], dtype=torch.float64))
    torch.testing.assert_close(z, torch.tensor([[0.0, 2.0]], dtype=torch.float64))


def test_feature_norm_single_row_is_finite() -> None:
    norm = FeatureNorm(3).fit(torch.tensor([[1.0, 2.0, 3.0]]))
    assert torch.isfinite(norm(torch.randn(5, 3))).all()


def test_feature_norm_buffers_round_trip_through_state_dict() -> None:
    norm = FeatureNorm(3).fit(torch.randn(20, 3) * 4 + 2)
    state = norm.state_dict()
    assert set(state) == {"mean", "std", "fitted"}
    other = FeatureNorm(3)
    other.load_state_dict(state)
    x = torch.randn(5, 3)
    assert torch.equal(other(x), norm(x))
    assert bool(other.fitted)


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (torch.randn(4, 2), r"shape \(N, 3\)"),
        (torch.randn(4), r"shape \(N, 3\)"),
        (torch.empty(0, 3), "0 rows"),
        (torch.tensor([[1.0, float("nan"), 0.0]]), "NaN"),
        (torch.ones(2, 3, dtype=torch.int64), "floating"),
    ],
)
def test_feature_norm_fit_rejects_bad_input(x: torch.Tensor, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        FeatureNorm(3).fit(x)


# ---------------------------------------------------------------- ProjectionHead


def _manual_head(head: ProjectionHead, x: torch.Tensor) -> torch.Tensor:
    """The paper code's head written out by hand (eval mode: dropout is identity)."""
    projected = x @ head.projection.weight.T + head.projection.bias
    h = F.gelu(projected) @ head.fc.weight.T + head.fc.bias
    ln = head.layer_norm
    return F.layer_norm(h + projected, (h.shape[1],), ln.weight, ln.bias)


def test_head_matches_manual_formula() -> None:
    head = ProjectionHead(5, 3).double().eval()
    with torch.no_grad():
        head.layer_norm.weight.uniform_(0.5, 1.5)
        head.layer_norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(7, 5, dtype=torch.float64)
    torch.testing.assert_close(head(x), _manual_head(head, x), rtol=1e-12, atol=1e-12)


def test_head_residual_with_zeroed_second_linear() -> None:
    head = ProjectionHead(4, 6).double().eval()
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.zero_()
    x = torch.randn(5, 4, dtype=torch.float64)
    projected = x @ head.projection.weight.T + head.projection.bias
    mu = projected.mean(dim=1, keepdim=True)
    var = projected.var(dim=1, unbiased=False, keepdim=True)
    expected = (projected - mu) / torch.sqrt(var + head.layer_norm.eps)
    torch.testing.assert_close(head(x), expected, rtol=1e-10, atol=1e-10)


def test_head_dropout_only_in_training() -> None:
    head = ProjectionHead(4, 16, dropout=0.5)
    x = torch.randn(3, 4)
    torch.manual_seed(0)
    assert not torch.equal(head(x), head(x))
    head.eval()
    assert torch.equal(head(x), head(x))


@pytest.mark.parametrize(
    "kwargs", [{"in_dim": 0, "out_dim": 3}, {"in_dim": 2, "out_dim": -1}, {"dropout": 1.0}]
)
def test_head_rejects_bad_options(kwargs: dict[str, object]) -> None:
    options = {"in_dim": 2, "out_dim": 3, **kwargs}
    dropout = options.pop("dropout", 0.1)
    with pytest.raises(InputError):
        ProjectionHead(options["in_dim"], options["out_dim"], dropout=dropout)  # type: ignore[arg-type]


# ---------------------------------------------------------------- AttentionPooling


def _padded(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    mask = torch.tensor(
        [[True] * 5, [True, True, True, False, False], [True, False, False, False, False]]
    )
    return x, mask


@pytest.mark.parametrize("hidden", [None, 8])
def test_pooling_matches_loop_reference(hidden: int | None) -> None:
    pool = AttentionPooling(4, hidden=hidden).double()
    x, mask = _padded()
    out = pool(x, mask)
    for i in range(x.shape[0]):
        valid = x[i][mask[i]]
        scores = pool.score(valid).squeeze(-1)
        weights = torch.exp(scores - scores.max())
        weights = weights / weights.sum()
        expected = (weights[:, None] * valid).sum(dim=0)
        torch.testing.assert_close(out[i], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hidden", [None, 8])
def test_pooling_ignores_padding_values(hidden: int | None) -> None:
    pool = AttentionPooling(4, hidden=hidden).double()
    x, mask = _padded()
    garbage = x.clone()
    garbage[~mask] = float("nan")
    garbage[1, 3] = 1e6
    garbage[1, 4] = float("nan")
    torch.testing.assert_close(pool(garbage, mask), pool(x, mask), rtol=0, atol=0)


def test_pooling_permutation_invariant_over_valid_tokens() -> None:
    pool = AttentionPooling(4, hidden=6).double()
    x, mask = _padded()
    permuted = x.clone()
    permuted[1, :3] = x[1, [2, 0, 1]]
    permuted[0] = x[0, [4, 2, 0, 3, 1]]
    torch.testing.assert_close(pool(permuted, mask), pool(x, mask), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hidden", [None, 8])
def test_pooling_uniform_scores_give_masked_mean(hidden: int | None) -> None:
    pool = AttentionPooling(4, hidden=hidden).double()
    with torch.no_grad():
        for p in pool.score[-1].parameters():
            p.zero_()
    x, mask = _padded()
    expected = torch.stack([x[i][mask[i]].mean(dim=0) for i in range(3)])
    torch.testing.assert_close(pool(x, mask), expected, rtol=1e-12, atol=1e-12)


def test_pooling_without_mask_uses_all_positions() -> None:
    pool = AttentionPooling(4).double()
    x, _ = _padded()
    full = torch.ones(3, 5, dtype=torch.bool)
    torch.testing.assert_close(pool(x), pool(x, full))


def test_pooling_gradient_ignores_padding() -> None:
    pool = AttentionPooling(4, hidden=3).double()
    x, mask = _padded()
    x.requires_grad_(True)
    pool(x, mask).sum().backward()
    assert x.grad is not None
    assert torch.all(x.grad[~mask] == 0)
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    ("x", "mask", "pattern"),
    [
        (torch.randn(2, 3, 4), torch.tensor([[True, False, False], [False] * 3]), "no valid"),
        (torch.randn(2, 3, 5), None, r"\(B, L, 4\)"),
        (torch.randn(2, 3, 4), torch.ones(2, 4, dtype=torch.bool), "mask"),
        (torch.randn(2, 3, 4), torch.ones(2, 3), "mask"),
    ],
)
def test_pooling_rejects_bad_input(
    x: torch.Tensor, mask: torch.Tensor | None, pattern: str
) -> None:
    with pytest.raises(InputError, match=pattern):
        AttentionPooling(4)(x, mask)


# ---------------------------------------------------------------- FeatureAugment


def test_augment_is_identity_in_eval() -> None:
    aug = FeatureAugment(noise_std=1.0, mask_prob=0.5).eval()
    x = torch.randn(10, 4)
    assert torch.equal(aug(x), x)


def test_augment_masking_rate_and_kept_values() -> None:
    aug = FeatureAugment(noise_std=0.0, mask_prob=0.3).train()
    x = torch.rand(200, 100) + 1.0
    torch.manual_seed(3)
    out = aug(x)
    zero = out == 0
    assert abs(zero.double().mean().item() - 0.3) < 0.02
    assert torch.equal(out[~zero], x[~zero])


def test_augment_noise_scale() -> None:
    aug = FeatureAugment(noise_std=0.25, mask_prob=0.0).train()
    x = torch.randn(300, 100, dtype=torch.float64)
    torch.manual_seed(4)
    delta = aug(x) - x
    assert abs(delta.std().item() - 0.25) < 0.01
    assert abs(delta.mean().item()) < 0.01


def test_augment_follows_global_seed() -> None:
    aug = FeatureAugment().train()
    x = torch.randn(6, 5)
    torch.manual_seed(11)
    first = aug(x)
    second = aug(x)
    torch.manual_seed(11)
    again = aug(x)
    assert torch.equal(first, again)
    assert not torch.equal(first, second)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_std": -0.1},
        {"noise_std": float("inf")},
        {"mask_prob": 1.0},
        {"mask_prob": -0.01},
        {"mask_prob": float("nan")},
    ],
)
def test_augment_validates_ranges(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        FeatureAugment(**kwargs)
