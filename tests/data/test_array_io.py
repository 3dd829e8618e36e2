"""load_array / save_array_atomic / read_json_object: clear errors and atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.io import (
    check_output_dir,
    check_output_file,
    load_array,
    read_json_object,
    save_array_atomic,
)
from gentleclip.errors import InputError


def test_load_array_casts_to_float32(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
    loaded = load_array(tmp_path / "x.npy")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])


def test_load_array_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_array(tmp_path / "missing.npy")
    np.save(tmp_path / "obj.npy", np.array([None, {}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"obj\.npy: not a plain \.npy array"):
        load_array(tmp_path / "obj.npy")
    values = np.ones((5, 2))
    values[4, 0] = -np.inf
    np.save(tmp_path / "inf.npy", values)
    with pytest.raises(InputError, match=r"inf\.npy: contains NaN or Inf.*row 4"):
        load_array(tmp_path / "inf.npy")
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(InputError, match=r"expected a 2-D array.*\(2, 2, 2\)"):
        load_array(tmp_path / "cube.npy")
    np.savez(tmp_path / "both.npz", a=np.ones((2, 2)))
    with pytest.raises(InputError, match="npz archive"):
        load_array(tmp_path / "both.npz")
    (tmp_path / "text.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(InputError, match=r"text\.npy"):
        load_array(tmp_path / "text.npy")


def test_save_array_atomic_roundtrip_and_replace(tmp_path: Path) -> None:
    target = tmp_path / "emb.npy"
    save_array_atomic(target, np.ones((3, 2), np.float32))
    save_array_atomic(target, np.full((4, 2), 2.0, np.float32))
    np.testing.assert_array_equal(np.load(target), np.full((4, 2), 2.0))
    assert [p.name for p in tmp_path.iterdir()] == ["emb.npy"]


def test_save_array_atomic_failure_leaves_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "emb.npy"
    save_array_atomic(target, np.ones((3, 2)))

    def failing_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_array_atomic(target, np.zeros((3, 2)))
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(target), np.ones((3, 2)))
    assert [p.name for p in tmp_path.iterdir()] == ["emb.npy"]


def test_save_array_atomic_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        save_array_atomic(tmp_path / "no" / "emb.npy", np.ones((2, 2)))
    with pytest.raises(InputError, match="object array"):
        save_array_atomic(tmp_path / "emb.npy", np.array([None], dtype=object))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing model config file"),
        (b"{not json", "cannot read model config"),
        (b"\xff\xfe{}", "cannot read model config"),
        (b"[1, 2]", "must hold a JSON object"),
    ],
)
def test_read_json_object_names_the_problem_and_file(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    file = tmp_path / "config.json"
    if content is not None:
        file.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_json_object(file, "model config")
    assert str(file) in str(info.value)


def test_read_json_object_returns_the_object(tmp_path: Path) -> None:
    file = tmp_path / "index.json"
    file.write_text('{"a": [1, 2], "b": {"c": null}}', encoding="utf-8")
    assert read_json_object(file, "index metadata") == {"a": [1, 2], "b": {"c": None}}


def test_check_output_file_names_what_blocks_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert check_output_file(tmp_path / "new" / "out.json", "--json") == tmp_path / "new/out.json"
    cases = [
        (tmp_path, {}, "--json .*: is a directory; give a file name"),
        (tmp_path / "file" / "out.json", {}, "file is a file, not a directory"),
        (tmp_path / "file" / "a" / "out.json", {}, "file is a file, not a directory"),
        (tmp_path / "new" / "out.json", {"parent_must_exist": True}, "new does not exist"),
    ]
    for path, options, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            check_output_file(path, "--json", **options)
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_check_output_dir_names_the_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert check_output_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert check_output_dir(tmp_path) == tmp_path  # an existing directory is fine
    cases = [
        (tmp_path / "file", "--out .*file is a file, not a directory"),
        (tmp_path / "file" / "run", "--out .*run: .*file is a file, not a directory"),
        (tmp_path / "file" / "a" / "run", "--out .*run: .*file is a file, not a directory"),
    ]
    for path, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            check_output_dir(path)
    assert not (tmp_path / "new").exists()  # checking creates nothing
