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


def test_neighbourhood_terms_weighted_per_side_and_off_by_default() -> None:
    from gentleclip.losses import functional as LF

    gen = torch.Generator().manual_seed(1)
    outputs = _outputs()
    outputs["features_a"] = torch.randn(12, 6, generator=gen)
    outputs["features_b"] = torch.randn(12, 3, generator=gen)
    assert not {"nbr_a", "nbr_b"} & set(GentleObjective(LossConfig())(outputs))
    config = LossConfig(
        w_sdd=0.0, w_mmd=0.0, w_pseudo=0.0, w_nbr=0.3, nbr_temperature=0.2, nbr_bandwidth=0.5
    )
    terms = GentleObjective(config)(outputs)
    for side in ("a", "b"):
        want = LF.neighbourhood_loss(
            outputs[f"features_{side}"], outputs[f"all_{side}"], temperature=0.2, bandwidth=0.5
        )
        torch.testing.assert_close(terms[f"nbr_{side}"], want)
    torch.testing.assert_close(
        terms["loss"], terms["clip"] + 0.3 * (terms["nbr_a"] + terms["nbr_b"])
    )


@pytest.mark.parametrize(("key", "value"), [("w_nbr", -0.1), ("nbr_temperature", 0.0)])
def test_bad_neighbourhood_options_are_rejected(key: str, value: float) -> None:
    with pytest.raises(InputError, match=key):
        config_from_dict({"loss": {key: value}})


def test_clip_and_sclip_never_weight_the_neighbourhood_term() -> None:
    from gentleclip.training.module import effective_loss_config

    for method in ("clip", "sclip"):
        config = config_from_dict({"method": method, "loss": {"w_nbr": 0.5}})
        assert effective_loss_config(config).w_nbr == 0.0
    assert effective_loss_config(config_from_dict({"loss": {"w_nbr": 0.5}})).w_nbr == 0.5
