"""Every loss stays finite (values and gradients) under bfloat16 CPU autocast.

Embeddings come from an ``nn.Linear`` run under autocast (so they are bfloat16, as a
projection head's outputs would be), then L2-normalised: random rows, near-duplicate rows,
near-collapsed rows (one point plus tiny noise) and exactly collapsed rows. Gradients are
checked on the linear layer's parameters, i.e. through the bfloat16 casts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentleclip.errors import InputError
from gentleclip.losses import CLIPLoss, MKMMDLoss, NTXentLoss, SDDLoss
from gentleclip.training.config import LossConfig
from gentleclip.training.objective import GentleObjective

KINDS = ("random", "near_duplicate", "near_collapsed", "collapsed")
IN_DIM, OUT_DIM = 24, 48


def _raw(kind: str, rows: int, seed: int) -> Tensor:
    """Raw float32 inputs (rows, IN_DIM) of the given kind."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(rows, IN_DIM, generator=gen)
    if kind == "random":
        return noise
    if kind == "near_duplicate":  # every row twice, the copy moved by 1e-3
        half = noise[: (rows + 1) // 2]
        return torch.cat([half, half + 1e-3 * noise[: rows // 2]])[:rows]
    centre = torch.randn(1, IN_DIM, generator=gen).expand(rows, IN_DIM)
    return centre + (0.05 * noise if kind == "near_collapsed" else 0.0)


def _embed(encoder: nn.Linear, kind: str, rows: int, seed: int) -> Tensor:
    """bfloat16 L2-normalised embeddings (call under autocast)."""
    z = F.normalize(encoder(_raw(kind, rows, seed)), dim=1)
    assert z.dtype == torch.bfloat16
    return z


def _assert_finite_step(compute: Callable[[nn.Linear], Tensor | dict[str, Tensor]]) -> None:
    """Run ``compute`` under bf16 autocast, backprop, check finite values and gradients."""
    torch.manual_seed(0)
    encoder = nn.Linear(IN_DIM, OUT_DIM)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = compute(encoder)
    terms = out if isinstance(out, dict) else {"loss": out}
    for name, value in terms.items():
        assert value.dim() == 0 and math.isfinite(value.item()), f"{name} = {value}"
    terms["loss"].backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name


def _pairwise_case(module: nn.Module, kind: str, rows: int) -> Callable[[nn.Linear], Tensor]:
    def compute(encoder: nn.Linear) -> Tensor:
        return module(_embed(encoder, kind, rows, 1), _embed(encoder, kind, rows - 8, 2))

    return compute


DISTRIBUTION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "sdd": lambda: SDDLoss(),
    "sdd_loo_norm_var": lambda: SDDLoss(leave_one_out=True, normalize=True, spread="variance"),
    "sdd_chunked": lambda: SDDLoss(leave_one_out=True, chunk_size=48),
    "mmd": lambda: MKMMDLoss(),
    "mmd_unbiased_chunked": lambda: MKMMDLoss(unbiased=True, chunk_size=48),
}


@pytest.mark.parametrize("kind", KINDS[:3])
@pytest.mark.parametrize("name", sorted(DISTRIBUTION_MODULES))
def test_distribution_losses_finite(name: str, kind: str) -> None:
    _assert_finite_step(_pairwise_case(DISTRIBUTION_MODULES[name](), kind, 128))


@pytest.mark.parametrize("chunk", [None, 48])
def test_collapsed_sets_mmd_finite_and_sdd_refuses(chunk: int | None) -> None:
    _assert_finite_step(_pairwise_case(MKMMDLoss(unbiased=True, chunk_size=chunk), "collapsed", 96))
    with pytest.raises(InputError, match="zero variance"):  # SDD is undefined there: no NaN
        _assert_finite_step(_pairwise_case(SDDLoss(chunk_size=chunk), "collapsed", 96))


CLIP_MODULES: dict[str, Callable[[], CLIPLoss]] = {
    "fixed": lambda: CLIPLoss(),
    "learnable_extras": lambda: CLIPLoss(learnable_scale=True, extra_negatives=True),
    "learnable_extras_chunked": lambda: CLIPLoss(
        learnable_scale=True, extra_negatives=True, init_scale=100.0, chunk_size=40
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(CLIP_MODULES))
def test_clip_finite(name: str, kind: str) -> None:
    module = CLIP_MODULES[name]()

    def compute(encoder: nn.Linear) -> Tensor:
        a = _embed(encoder, kind, 96, 3)
        b = _embed(encoder, kind, 96, 4)
        return module(a, b, _embed(encoder, kind, 64, 5), _embed(encoder, kind, 32, 6))

    _assert_finite_step(compute)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_ntxent_finite(kind: str, temperature: float) -> None:
    module = NTXentLoss(temperature=temperature)
    _assert_finite_step(lambda enc: module(_embed(enc, kind, 128, 7), _embed(enc, kind, 128, 8)))


def _objective_outputs(encoder: nn.Linear, kind: str) -> dict[str, Tensor]:
    """TwoTower-style outputs: 64 pairs, 256 rows per side, two views per side."""
    all_a, all_b = _embed(encoder, kind, 256, 9), _embed(encoder, kind, 256, 10)
    out = {"all_a": all_a, "all_b": all_b, "pair_a": all_a[:64], "pair_b": all_b[:64]}
    for i, side in enumerate("ab"):
        out[f"view1_{side}"] = _embed(encoder, kind, 64, 11 + i)
        out[f"view2_{side}"] = _embed(encoder, kind, 64, 13 + i)
    return out


@pytest.mark.parametrize("kind", KINDS[:3])
@pytest.mark.parametrize("chunk", [None, 64])
def test_objective_all_terms_finite(kind: str, chunk: int | None) -> None:
    config: dict[str, Any] = {
        "w_ssl": 0.5,
        "w_pseudo": 0.5,
        "learnable_scale": True,
        "clip_extra_negatives": True,
        "mmd_unbiased": True,
        "chunk_size": chunk,
    }
    objective = GentleObjective(LossConfig(**config))

    def compute(encoder: nn.Linear) -> dict[str, Tensor]:
        terms = objective(_objective_outputs(encoder, kind))
        assert set(terms) == {"clip", "sdd", "mmd", "ssl_a", "ssl_b", "pseudo", "loss"}
        return terms

    _assert_finite_step(compute)
