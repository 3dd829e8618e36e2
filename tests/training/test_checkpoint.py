from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.training.checkpoint import (
    RUN_RECORD_KEY,
    StepCheckpoint,
    load_checkpoint_file,
    run_record,
    save_checkpoint_file,
)


def _checkpoint() -> dict:
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optim.step()
    return {
        "state_dict": model.state_dict(),
        "optimizer_states": [optim.state_dict()],
        "loops": {"epoch": 3, "nested": {"ratio": 0.5, "name": "x", "none": None, "flag": True}},
        "pair": (1, 2.5),
        "best": torch.tensor(0.25),
    }


def test_round_trip_preserves_types_and_tensors(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    path = tmp_path / "last.ckpt"
    save_checkpoint_file(ckpt, path)
    loaded = load_checkpoint_file(path)
    for key, value in ckpt["state_dict"].items():
        assert torch.equal(loaded["state_dict"][key], value)
    state = loaded["optimizer_states"][0]
    assert set(state["state"]) == {0, 1}  # int keys survive
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples survive
    assert loaded["loops"] == ckpt["loops"] and loaded["pair"] == (1, 2.5)
    optim = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    optim.load_state_dict(state)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp file left


def test_truncated_and_garbage_checkpoints_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    save_checkpoint_file(_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"last\.ckpt is truncated or corrupted"):
        load_checkpoint_file(path)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match=r"last\.ckpt"):
        load_checkpoint_file(path)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint_file(tmp_path / "missing.ckpt")


def test_unstorable_object_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="object"):
        save_checkpoint_file({"bad": object()}, tmp_path / "x.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_step_checkpoint_records_its_run_in_every_checkpoint(tmp_path: Path) -> None:
    record = {"config": {"seed": 3, "model": {"embed_dim": 8}}, "data": {"dim_a": 12}}
    callback = StepCheckpoint(tmp_path / "last.ckpt", 5, record)
    checkpoint = _checkpoint()
    callback.on_save_checkpoint(None, None, checkpoint)  # type: ignore[arg-type]
    save_checkpoint_file(checkpoint, tmp_path / "last.ckpt")
    loaded = load_checkpoint_file(tmp_path / "last.ckpt")
    assert run_record(loaded) == record and loaded[RUN_RECORD_KEY] == record
    assert run_record(_checkpoint()) is None  # written before records existed
    unrecorded = _checkpoint()
    StepCheckpoint(tmp_path / "x.ckpt", 5).on_save_checkpoint(None, None, unrecorded)  # type: ignore[arg-type]
    assert RUN_RECORD_KEY not in unrecorded
