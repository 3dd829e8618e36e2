from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gentleclip.errors import InputError
from gentleclip.training.config import LossConfig, config_from_dict
from gentleclip.training.objective import GentleObjective


def _outputs() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(12, 4, generator=gen), dim=1)
    b = F.normalize(torch.randn(12, 4, generator=gen) + 0.5, dim=1)
    return {"pair_a": a[:4], "pair_b": b[:4], "all_a": a, "all_b": b}


def test_warmup_then_linear_ramp_of_the_distribution_terms() -> None:
    config = LossConfig(w_ssl=0.0, w_pseudo=0.0, dist_warmup_steps=3, dist_ramp_steps=4)
    objective = GentleObjective(config)
    assert [objective.distribution_scale(s) for s in range(9)] == [
        0,
        0,
        0,
        0.2,
        0.4,
        0.6,
        0.8,
        1,
        1,
    ]
    outputs = _outputs()
    warm = objective(outputs, step=0)
    assert "sdd" not in warm and torch.allclose(warm["loss"], warm["clip"])
    mid = objective(outputs, step=4)
    expected = mid["clip"] + 0.4 * (config.w_sdd * mid["sdd"] + config.w_mmd * mid["mmd"])
    assert torch.allclose(mid["loss"], expected)
    full = objective(outputs, step=100)
    assert torch.allclose(
        full["loss"], full["clip"] + config.w_sdd * full["sdd"] + config.w_mmd * full["mmd"]
    )


def test_negative_schedule_is_rejected() -> None:
    with pytest.raises(InputError, match="dist_warmup_steps"):
        config_from_dict({"loss": {"dist_warmup_steps": -1}})
