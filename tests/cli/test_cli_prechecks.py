"""Options that would fail late are refused before any work: the demo's pair count and JSON
path, and seeds outside numpy's range (one stderr line, exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gentleclip.cli.main import main


@pytest.mark.parametrize("seed", ["-1", "4294967296", "x"])
def test_split_seed_outside_numpy_range(full_npz: Path, tmp_path: Path, capsys, seed) -> None:
    out = tmp_path / "d"
    argv = ["split", str(full_npz), "--out", str(out), "--pairs", "10", "--regime", "bags"]
    assert main([*argv, "--test-size", "40", "--seed", seed]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--pairs", "0"], "needs at least 2 pairs"),
        (["--pairs", "1"], "needs at least 2 pairs"),
        (["--json", "{dir}"], "is a directory"),
        (["--json", "{file}/r.json"], "is a file, not a directory"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_demo_refuses_before_training(tmp_path: Path, capsys, extra, pattern) -> None:
    (tmp_path / "file").write_text("x")
    extra = [e.format(dir=tmp_path, file=tmp_path / "file") for e in extra]
    out = tmp_path / "work"
    assert main(["demo", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and pattern in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("command", ["bench", "train"])
def test_out_below_a_file_is_refused_naming_the_file(
    full_npz: Path, tmp_path: Path, capsys, command
) -> None:
    """A file where --out's parent folder should be: one line naming it, not an OS error."""
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    data = tmp_path / "data"
    split = ["split", str(full_npz), "--out", str(data), "--pairs", "10", "--regime", "bags"]
    assert main([*split, "--test-size", "40"]) == 0
    argv = ["bench", "--quick"] if command == "bench" else ["train", str(data), "--steps", "1"]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path / 'file'} is a file, not a directory" in err[0], err
    assert (tmp_path / "file").read_text() == "x"
