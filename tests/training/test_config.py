from __future__ import annotations

from pathlib import Path

import pytest

from gentleclip.errors import InputError
from gentleclip.recipes import load_recipe, recipe_names
from gentleclip.training.config import TrainConfig, config_from_dict, dump_config, load_config


def test_defaults_validate_and_round_trip_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(TrainConfig()))
    assert load_config(path) == TrainConfig()


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
    shipped = Path(__file__).resolve().parents[2] / "configs" / "train.yaml"
    assert load_config(shipped) == TrainConfig()
