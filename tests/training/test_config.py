from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from gentleclip.cli.main import main
from gentleclip.errors import InputError
from gentleclip.experiments import bench
from gentleclip.recipes import config_or_recipe, load_recipe, recipe_names
from gentleclip.training.config import (
    MAX_SEED,
    TrainConfig,
    config_from_dict,
    dump_config,
    load_config,
    read_yaml,
    resume_conflicts,
)
from gentleclip.training.fit import _config_differences


def test_defaults_validate_and_round_trip_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(TrainConfig()))
    assert load_config(path) == TrainConfig()


def test_recipes_may_write_floats_as_yaml_1_2_does(tmp_path: Path) -> None:
    """``lr: 1e-3`` is a float (PyYAML's YAML 1.1 would read a string and refuse it)."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "optim: {lr: 1e-3, weight_decay: 5E-2}\n"
        "loss: {mmd_multipliers: [1e0, .5e1, +2.5e+0], clip_temperature: 1.0e-1}\n"
    )
    config = load_config(path)
    assert config.optim.lr == 1e-3 and config.optim.weight_decay == 5e-2
    assert config.loss.mmd_multipliers == [1.0, 5.0, 2.5] and config.loss.clip_temperature == 0.1
    assert read_yaml("a: [1e, e5, 1e-3x, '1e-3', 10, 0.5]") == {
        "a": ["1e", "e5", "1e-3x", "1e-3", 10, 0.5]
    }
    assert yaml.safe_load("a: 1e-3") == {"a": "1e-3"}  # PyYAML's own loader is left as it is
    path.write_text("optim: {lr: 1e-3x}\n")
    with pytest.raises(InputError, match=r"optim\.lr has a bad value '1e-3x'"):
        load_config(path)


def test_override_nested_and_int_to_float() -> None:
    config = config_from_dict({"loss": {"w_sdd": 1}, "optim": {"steps": 5}, "method": "clip"})
    assert config.loss.w_sdd == 1.0 and isinstance(config.loss.w_sdd, float)
    assert config.optim.steps == 5 and config.method == "clip"
    assert config.loss.w_mmd == TrainConfig().loss.w_mmd


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"loss": {"w_sddd": 1.0}}, "loss.w_sddd"),
        ({"method": "simclr"}, "unknown method"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"loss": {"w_mmd": -0.1}}, "loss.w_mmd"),
        ({"optim": {"steps": "many"}}, "optim.steps"),
        ({"optim": {"steps": None, "epochs": None}}, "optim.steps or optim.epochs"),
        ({"model": 3}, "model"),
        ({"optim": {"weight_decay": -1.0}}, "optim.weight_decay must be >= 0"),
        ({"loss": {"sdd_spread": "bogus"}}, "loss.sdd_spread must be one of range"),
        ({"loss": {"mmd_multipliers": []}}, "loss.mmd_multipliers must be a non-empty list"),
        ({"loss": {"mmd_multipliers": [-1.0, 0]}}, "loss.mmd_multipliers entries must be"),
        ({"loss": {"mmd_multipliers": ["a", "b"]}}, "loss.mmd_multipliers entries must be"),
        ({"loss": {"mmd_multipliers": [1.0, True]}}, "loss.mmd_multipliers entries must be"),
        ({"loss": {"mmd_bandwidths": [0.0]}}, "loss.mmd_bandwidths entries must be"),
        ({"loss": {"mmd_bandwidths": []}}, "loss.mmd_bandwidths must be a non-empty list"),
        ({"seed": -1}, "seed must be an integer in 0..4294967295, got -1"),
        ({"seed": 99999999999}, "seed must be an integer in 0..4294967295"),
    ],
)
def test_bad_config_names_the_key(values: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle.replace(".", r"\.")):
        config_from_dict(values)


def test_missing_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(bad)


def test_shipped_recipes_load() -> None:
    assert {"mfeat-gentle", "mfeat-clip"} <= set(recipe_names())
    assert load_recipe("mfeat-gentle").method == "gentle"
    assert load_recipe("mfeat-clip").method == "clip"
    with pytest.raises(InputError, match="unknown recipe"):
        load_recipe("nope")


def test_configs_train_yaml_lists_the_current_defaults() -> None:
    """Every field, with its default (a missing key would load as its default too)."""
    shipped = Path(__file__).resolve().parents[2] / "configs" / "train.yaml"
    assert load_config(shipped) == TrainConfig()
    written = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(asdict(TrainConfig())))


def test_edge_values_that_runs_can_use_are_accepted() -> None:
    config = config_from_dict(
        {
            "seed": MAX_SEED,
            "optim": {"weight_decay": 0.0},
            "loss": {"sdd_spread": "none", "mmd_multipliers": [1], "mmd_bandwidths": [0.5, 2]},
        }
    )
    assert config.seed == 2**32 - 1 and config.loss.mmd_bandwidths == [0.5, 2]


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_cli_seed_out_of_range_is_one_line(tmp_path: Path, capsys, seed: str) -> None:
    assert (
        main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "r"), "--seed", seed]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gentleclip: error: seed must be"), err
    assert not (tmp_path / "r").exists()


def test_resume_may_change_only_length_and_reporting() -> None:
    saved = TrainConfig().to_dict()
    config = TrainConfig()
    config.optim.steps, config.optim.epochs = 5000, 3
    config.trainer.progress = False
    config.trainer.checkpoint_every_steps = 7
    config.trainer.skip_nonfinite = True
    assert resume_conflicts(saved, config) == []
    config.method, config.model.embed_dim, config.optim.lr = "clip", 8, 0.1
    config.sampler.pairs_per_step, config.loss.w_sdd, config.seed = 3, 0.0, 9
    assert [key for key, _, _ in resume_conflicts(saved, config)] == [
        "method",
        "seed",
        "model.embed_dim",
        "loss.w_sdd",
        "sampler.pairs_per_step",
        "optim.lr",
    ]


def test_resume_compares_keys_an_old_run_lacks_with_their_defaults() -> None:
    saved = TrainConfig().to_dict()
    del saved["loss"]["chunk_size"]
    saved["loss"]["retired_key"] = 1.0
    config = TrainConfig()
    assert resume_conflicts(saved, config) == []
    config.loss.chunk_size = 16
    assert resume_conflicts(saved, config) == [("loss.chunk_size", None, 16)]


def test_resume_ignores_the_s_clip_keys_except_for_sclip_runs() -> None:
    """A run saved with the earlier S-CLIP defaults resumes as gentle or clip; as sclip the
    changed settings are named (train it on with the recipe sclip-legacy)."""
    saved = TrainConfig().to_dict()
    saved["loss"].update(w_pseudo=1.0, pseudo_epsilon=0.1, pseudo_iterations=50)
    for method in ("gentle", "clip"):
        saved["method"] = method
        assert resume_conflicts(saved, config_from_dict({"method": method})) == []
    saved["method"] = "sclip"
    del saved["loss"]["pseudo_detach_targets"]  # saved before the key: its runs were detached
    assert resume_conflicts(saved, config_from_dict({"method": "sclip"})) == [
        ("loss.w_pseudo", 1.0, 0.5),
        ("loss.pseudo_epsilon", 0.1, 0.05),
        ("loss.pseudo_iterations", 50, 10),
        ("loss.pseudo_detach_targets", True, False),
    ]
    assert resume_conflicts(saved, load_recipe("sclip-legacy")) == []
    found = _config_differences(saved, config_from_dict({"method": "sclip"}))
    assert found[0] == "loss.w_pseudo 1.0 -> 0.5" and "sclip-legacy.yaml" in found[-1]
    saved["method"] = "gentle"
    assert _config_differences(saved, config_from_dict({"seed": 1})) == ["seed 0 -> 1"]


@pytest.mark.parametrize("name", ["gentle-wide", "clip"])
def test_molecules_recipes_are_the_towers_their_rows_were_made_with(name: str) -> None:
    """Molecules' recipes hold the towers that session 46f4fd9's ten-seed rows and the tables'
    grid were made with (bench --recipe-override on the recipes before): that override
    changes nothing in them, and the towers are the projection head alone. Gentle's recipe of
    those rows is molecules-gentle-wide since session e2fc655."""
    rows = Path(__file__).resolve().parents[2] / "docs" / "bench"
    path = rows / "bench-molecules-heads512-seeds59-46f4fd9.jsonl"
    overrides = {
        json.dumps(row["recipe_override"], sort_keys=True) for row in bench.read_results(path)
    }
    assert len(overrides) == 1  # read_results gives [] for a missing file
    recipe = load_recipe(f"molecules-{name}").to_dict()
    assert bench.with_recipe_override(recipe, json.loads(overrides.pop())) == recipe
    config = load_recipe(f"molecules-{name}")
    assert (config.model.encoder_a, config.model.embed_dim) == ("identity", 512)
    assert config.model.encoder_a_kwargs == config.model.encoder_b_kwargs == {}
    assert not config.model.normalize_inputs


def test_a_renamed_encoder_starts_from_its_own_options() -> None:
    """Naming another encoder without options drops the MLP's default hidden_dims; options
    given, or the default encoder named again, keep what they say."""
    renamed = config_from_dict({"model": {"encoder_a": "identity"}}).model
    assert renamed.encoder_a_kwargs == {} and renamed.encoder_b_kwargs == {"hidden_dims": [256]}
    given = {"encoder_b": "residue_attention", "encoder_b_kwargs": {"channels": 18}}
    assert config_from_dict({"model": given}).model.encoder_b_kwargs == {"channels": 18}
    same = config_from_dict({"model": {"encoder_a": "mlp"}}).model
    assert same.encoder_a_kwargs == {"hidden_dims": [256]}


def test_config_takes_a_file_or_a_shipped_recipe_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config_or_recipe(None) == TrainConfig()
    assert config_or_recipe("molecules-gentle") == load_recipe("molecules-gentle")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "molecules-gentle").write_text("seed: 7\n")  # a file of that name wins
    assert config_or_recipe("molecules-gentle").seed == 7
    with pytest.raises(InputError, match=r"not found: nope \(nor is it a shipped recipe: .*mfeat"):
        config_or_recipe("nope")
