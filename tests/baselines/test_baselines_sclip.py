"""S-CLIP inside training: method wiring, objective term, and `gentleclip train --method sclip`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gentleclip.cli.main import main
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.module import effective_loss_config
from gentleclip.training.objective import GentleObjective


def test_sclip_keeps_clip_and_pseudo_terms_only() -> None:
    config = TrainConfig(method="sclip").validate()
    loss = effective_loss_config(config)
    assert (loss.w_sdd, loss.w_mmd, loss.w_ssl) == (0.0, 0.0, 0.0)
    assert loss.w_clip == 1.0 and loss.w_pseudo == config.loss.w_pseudo > 0
    assert effective_loss_config(TrainConfig(method="gentle")).w_pseudo == 0.0
    assert effective_loss_config(TrainConfig(method="clip")).w_pseudo == 0.0


def test_objective_adds_the_weighted_pseudo_term_and_skips_it_without_unpaired_rows() -> None:
    loss_config = effective_loss_config(TrainConfig(method="sclip"))
    objective = GentleObjective(loss_config)
    gen = torch.Generator().manual_seed(0)
    all_a = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    all_b = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    outputs = {"pair_a": all_a[:4], "pair_b": all_b[:4], "all_a": all_a, "all_b": all_b}
    terms = objective(outputs)
    assert set(terms) == {"clip", "pseudo", "loss"}
    torch.testing.assert_close(
        terms["loss"], terms["clip"] + loss_config.w_pseudo * terms["pseudo"]
    )
    paired_only = {**outputs, "all_a": all_a[:4], "all_b": all_b[:4]}
    assert set(objective(paired_only)) == {"clip", "loss"}


def _clip_term(method: str, **loss: object) -> tuple[torch.Tensor, torch.Tensor]:
    """The objective's CLIP term and its inputs (4 pairs, then 5 unpaired rows a side)."""
    config = config_from_dict({"method": method, "loss": loss})
    gen = torch.Generator().manual_seed(1)
    all_a = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    all_b = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    outputs = {"pair_a": all_a[:4], "pair_b": all_b[:4], "all_a": all_a, "all_b": all_b}
    return GentleObjective(effective_loss_config(config))(outputs)["clip"], torch.stack(
        [all_a, all_b]
    )


def _infonce(queries: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """Loop reference: mean over query i of -log softmax_i(q_i . k_j / temperature)."""
    total = torch.tensor(0.0)
    for i, q in enumerate(queries):
        logits = torch.stack([q @ k for k in keys]) / temperature
        total = total - torch.log_softmax(logits, dim=0)[i]
    return total / len(queries)


def test_sclip_extra_negatives_are_the_unpaired_a_rows_of_the_b_to_a_direction() -> None:
    """S-CLIP's code: text -> image logits over [paired images; unpaired images]."""
    clip, (all_a, all_b) = _clip_term("sclip", pseudo_extra_negatives=True)
    t = TrainConfig().loss.clip_temperature
    expected = 0.5 * (_infonce(all_a[:4], all_b[:4], t) + _infonce(all_b[:4], all_a, t))
    torch.testing.assert_close(clip, expected)
    plain, _ = _clip_term("sclip")
    assert not torch.allclose(clip, plain)
    # only where the pseudo-label term is weighted: not for clip, gentle or w_pseudo 0
    for method, loss in (("clip", {}), ("gentle", {}), ("sclip", {"w_pseudo": 0.0})):
        off, _ = _clip_term(method, pseudo_extra_negatives=True, **loss)
        torch.testing.assert_close(off, _clip_term(method, **loss)[0])


def test_pseudo_epsilon_from_scale_follows_the_learned_temperature() -> None:
    """S-CLIP's code: Sinkhorn epsilon = 1 / the learned logit scale, whose gradient then
    also comes through the plan; the epsilon of a fixed scale is the CLIP temperature."""
    from gentleclip.losses.soft_targets import pseudo_label_loss

    gen = torch.Generator().manual_seed(2)
    all_a = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    all_b = F.normalize(torch.randn(9, 8, generator=gen), dim=1)
    outputs = {"pair_a": all_a[:4], "pair_b": all_b[:4], "all_a": all_a, "all_b": all_b}
    grads = {}
    for tied in (True, False):
        loss = {"learnable_scale": True, "pseudo_epsilon_from_scale": tied}
        config = config_from_dict({"method": "sclip", "loss": loss})
        objective = GentleObjective(effective_loss_config(config))
        terms = objective(outputs)
        scale = objective.clip.logit_scale()
        epsilon = 1 / scale if tied else config.loss.pseudo_epsilon
        expected = pseudo_label_loss(
            all_a[4:], all_a[:4], all_b[:4], logit_scale=scale, epsilon=epsilon
        )
        torch.testing.assert_close(terms["pseudo"], expected)
        terms["pseudo"].backward()
        grads[tied] = objective.clip.log_logit_scale.grad
    assert not torch.allclose(grads[True], grads[False])
    loss = {"pseudo_epsilon_from_scale": True, "pseudo_epsilon": 0.9, "clip_temperature": 0.1}
    objective = GentleObjective(
        effective_loss_config(config_from_dict({"method": "sclip", "loss": loss}))
    )
    expected = pseudo_label_loss(all_a[4:], all_a[:4], all_b[:4], temperature=0.1, epsilon=0.1)
    torch.testing.assert_close(objective(outputs)["pseudo"], expected)


def _split_dir(tmp_path: Path, pairs: int) -> Path:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=120)
    z = rng.normal(size=(4, 5))[labels] * 3 + rng.normal(size=(120, 5))
    a = z @ rng.normal(size=(5, 12))
    b = np.tanh(z @ rng.normal(size=(5, 7)) / 3)
    full = tmp_path / "full.npz"
    np.savez(full, a=a.astype(np.float32), b=b.astype(np.float32), labels=labels)
    out = tmp_path / f"data{pairs}"
    argv = ["split", str(full), "--out", str(out), "--pairs", str(pairs), "--test-size", "30"]
    assert main([*argv, "--regime", "bags", "--bag-size", "8"]) == 0
    return out


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "model: {embed_dim: 8, encoder_a_kwargs: {hidden_dims: [16]}, "
        "encoder_b_kwargs: {hidden_dims: [16]}}\n"
        "sampler: {pairs_per_step: 8, unpaired_per_step: 16}\n"
        "trainer: {progress: false}\n"
    )
    return path


def test_train_method_sclip_end_to_end(tmp_path: Path, tiny_recipe: Path, capsys) -> None:
    data, run = _split_dir(tmp_path, 10), tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "4"]
    assert main([*argv, "--method", "sclip"]) == 0
    assert "method: sclip (CLIP on the pairs, S-CLIP pseudo-labels" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "sclip" and summary["steps"] == 4
    with (run / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(row["clip"] and not row["sdd"] for row in rows)
    assert main(["eval", str(run), "--data", str(data), "--json", str(tmp_path / "m.json")]) == 0
    assert 0.0 <= json.loads((tmp_path / "m.json").read_text())["a_to_b_R@1"] <= 1.0


def test_train_method_sclip_refuses_fewer_than_two_pairs(
    tmp_path: Path, tiny_recipe: Path, capsys
) -> None:
    data = _split_dir(tmp_path, 1)
    argv = ["train", str(data), "--out", str(tmp_path / "run"), "--config", str(tiny_recipe)]
    assert main([*argv, "--method", "sclip", "--steps", "2"]) == 2
    assert "sclip needs at least 2" in capsys.readouterr().err
