"""TwoTower.save_pretrained / from_pretrained: round trip and every failure mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from gentleclip.errors import InputError
from gentleclip.models import TwoTower, TwoTowerConfig, two_tower

Data = tuple[torch.Tensor, torch.Tensor]


@pytest.fixture
def saved(config: TwoTowerConfig, data: Data, tmp_path: Path) -> tuple[TwoTower, Path]:
    """A model with fitted normalisation and perturbed weights, saved to ``tmp_path/model``."""
    torch.manual_seed(0)
    model = TwoTower(config)
    model.fit_normalization(*data)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    directory = model.save_pretrained(tmp_path / "model")
    return model, directory


def test_round_trip_gives_identical_outputs(saved: tuple[TwoTower, Path], data: Data) -> None:
    model, directory = saved
    loaded = TwoTower.from_pretrained(directory)
    assert not loaded.training
    model.eval()
    a, b = data
    for side, x in (("a", a), ("b", b)):
        assert torch.equal(loaded.encode(side, x), model.encode(side, x))
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert set(state) == set(loaded_state)
    for key, value in state.items():
        assert torch.equal(loaded_state[key], value), key
    assert bool(loaded.towers["a"].norm.fitted)
    assert loaded.config.to_dict() == model.config.to_dict()


def test_written_files(saved: tuple[TwoTower, Path]) -> None:
    model, directory = saved
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((directory / "config.json").read_text())
    assert config["format"] == "gentleclip-two-tower"
    assert config["version"] == 1
    assert config["embed_dim"] == model.config.embed_dim
    with safe_open(str(directory / "model.safetensors"), framework="pt") as handle:
        assert set(handle.keys()) == set(model.state_dict())


def test_float64_model_keeps_its_dtype(config: TwoTowerConfig, data: Data, tmp_path: Path) -> None:
    model = TwoTower(config).double().eval()
    model.fit_normalization(*data)
    loaded = TwoTower.from_pretrained(model.save_pretrained(tmp_path))
    assert loaded.towers["a"].head.fc.weight.dtype == torch.float64
    x = data[0].double()
    assert torch.equal(loaded.encode("a", x), model.encode("a", x))


def test_failed_save_leaves_previous_files_intact(
    saved: tuple[TwoTower, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, directory = saved
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(two_tower, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        TwoTower.from_pretrained(directory).save_pretrained(directory)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before


def test_failed_first_save_writes_nothing(
    config: TwoTowerConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(tensors: object, filename: str, **kwargs: object) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(two_tower, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        TwoTower(config).save_pretrained(tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_save_into_a_file_path(config: TwoTowerConfig, tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        TwoTower(config).save_pretrained(target)


@pytest.mark.parametrize("keep", [0, 7, 100, -20])
def test_truncated_weights_name_the_file(saved: tuple[TwoTower, Path], keep: int) -> None:
    _, directory = saved
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:keep])
    with pytest.raises(InputError, match=r"model\.safetensors"):
        TwoTower.from_pretrained(directory)


def test_garbage_weights_name_the_file(saved: tuple[TwoTower, Path]) -> None:
    _, directory = saved
    (directory / "model.safetensors").write_bytes(b"\x80\x04not a safetensors file" * 10)
    with pytest.raises(InputError, match=r"model\.safetensors"):
        TwoTower.from_pretrained(directory)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        TwoTower.from_pretrained(tmp_path / "absent")


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_missing_file_is_named(saved: tuple[TwoTower, Path], name: str) -> None:
    _, directory = saved
    (directory / name).unlink()
    with pytest.raises(InputError, match=f"missing.*{name}"):
        TwoTower.from_pretrained(directory)


def _edit_config(directory: Path, **changes: object) -> None:
    path = directory / "config.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"format": "something-else"}, "format"),
        ({"version": 2}, "version"),
        ({"extra": 1}, "unknown key.*extra"),
        ({"embed_dim": 9}, "shape"),
        ({"normalize_inputs": False}, "unexpected"),
    ],
)
def test_config_problems(
    saved: tuple[TwoTower, Path], changes: dict[str, object], pattern: str
) -> None:
    _, directory = saved
    _edit_config(directory, **changes)
    with pytest.raises(InputError, match=pattern):
        TwoTower.from_pretrained(directory)


def test_unparseable_config_names_the_file(saved: tuple[TwoTower, Path]) -> None:
    _, directory = saved
    (directory / "config.json").write_text("{not json")
    with pytest.raises(InputError, match=r"config\.json"):
        TwoTower.from_pretrained(directory)


def test_missing_weight_key(saved: tuple[TwoTower, Path]) -> None:
    model, directory = saved
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if "fc.bias" not in k}
    two_tower.save_file(tensors, str(directory / "model.safetensors"))
    with pytest.raises(InputError, match=r"missing \[towers\.a\.head\.fc\.bias"):
        TwoTower.from_pretrained(directory)
