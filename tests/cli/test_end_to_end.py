"""split -> train -> eval -> embed through `main([...])`, plus resume and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from gentleclip.cli.main import main

KEYS = [
    f"{d}_{m}"
    for d in ("a_to_b", "b_to_a")
    for m in ("R@1", "R@5", "R@10", "median_rank", "class_P@1")
]


def _split(full: Path, out: Path, *extra: str) -> None:
    assert (
        main(["split", str(full), "--out", str(out), "--pairs", "10", "--test-size", "40", *extra])
        == 0
    )


def test_split_train_eval_embed(tmp_path: Path, full_npz: Path, tiny_recipe: Path, capsys) -> None:
    data, run = tmp_path / "data", tmp_path / "run"
    _split(full_npz, data, "--regime", "bags", "--bag-size", "8")
    argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "6"]
    assert main(argv) == 0
    assert "regime" in capsys.readouterr().out.lower()
    for name in (
        "config.yaml",
        "model/model.safetensors",
        "model/config.json",
        "checkpoints/last.ckpt",
    ):
        assert (run / name).is_file(), name
    header = (run / "logs" / "metrics.csv").read_text().splitlines()[0]
    for term in ("clip", "sdd", "mmd", "ssl_a", "ssl_b", "loss"):
        assert term in header
    assert main(["eval", str(run), "--data", str(data), "--json", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(KEYS) <= set(metrics) and 0.0 <= metrics["a_to_b_R@1"] <= 1.0
    assert (run / "embeddings.png").read_bytes()[:4] == b"\x89PNG"
    out = tmp_path / "emb.npy"
    assert (
        main(
            [
                "embed",
                str(run),
                "--side",
                "b",
                "--input",
                str(data / "eval_b.npy"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    z = np.load(out)
    assert z.shape == (40, 16) and np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)


def test_clip_method_and_disjoint_regime(tmp_path: Path, full_npz: Path, tiny_recipe: Path) -> None:
    data = tmp_path / "data"
    _split(full_npz, data, "--regime", "unpaired")
    for method in ("clip", "gentle"):
        run = tmp_path / method
        argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "3"]
        assert main([*argv, "--method", method]) == 0
        assert json.loads((run / "summary.json").read_text())["steps"] == 3


def test_pairs_only_split_trains(tmp_path: Path, full_npz: Path, tiny_recipe: Path, capsys) -> None:
    data, run = tmp_path / "data", tmp_path / "run"
    _split(full_npz, data, "--regime", "pairs")
    assert sorted(p.name for p in data.glob("*.npy")) == [
        "eval_a.npy",
        "eval_b.npy",
        "eval_labels.npy",
        "paired_a.npy",
        "paired_b.npy",
    ]
    assert json.loads((data / "split.json").read_text())["regime"] == "pairs"
    argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "3"]
    assert main(argv) == 0
    assert "pairs only" in capsys.readouterr().out


def test_resume_equals_uninterrupted_run(tmp_path: Path, full_npz: Path, tiny_recipe: Path) -> None:
    data = tmp_path / "data"
    _split(full_npz, data, "--regime", "bags")
    base = ["--config", str(tiny_recipe), "--seed", "3"]
    assert main(["train", str(data), "--out", str(tmp_path / "full"), *base, "--epochs", "3"]) == 0
    assert main(["train", str(data), "--out", str(tmp_path / "part"), *base, "--epochs", "2"]) == 0
    argv = ["train", str(data), "--out", str(tmp_path / "part"), *base, "--epochs", "3", "--resume"]
    assert main(argv) == 0
    full = load_file(tmp_path / "full" / "model" / "model.safetensors")
    part = load_file(tmp_path / "part" / "model" / "model.safetensors")
    assert full.keys() == part.keys()
    for key in full:
        assert np.allclose(full[key].numpy(), part[key].numpy(), atol=1e-6), key


def _expect_error(argv: list[str], needle: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gentleclip: error:") and needle in err[0], err


def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, full_npz: Path, tiny_recipe: Path, capsys
) -> None:
    data = tmp_path / "data"
    assert (
        main(
            [
                "split",
                str(full_npz),
                "--out",
                str(data),
                "--pairs",
                "0",
                "--test-size",
                "40",
                "--regime",
                "bags",
            ]
        )
        == 0
    )
    capsys.readouterr()
    run = tmp_path / "run"
    _expect_error(["train", str(data), "--out", str(run), "--method", "clip"], "0 pairs", capsys)
    assert not run.exists()
    _expect_error(["train", str(tmp_path / "missing"), "--out", str(run)], "missing", capsys)
    _expect_error(["train", str(data), "--out", str(run), "--frobnicate"], "frobnicate", capsys)
    _expect_error(["train", str(data), "--out", str(run), "--method", "dino"], "dino", capsys)
    _expect_error(
        [
            "split",
            str(tmp_path / "nope.npz"),
            "--out",
            str(tmp_path / "d2"),
            "--pairs",
            "1",
            "--regime",
            "bags",
        ],
        "nope.npz",
        capsys,
    )
    assert not (tmp_path / "d2").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "paired_a.npy", np.ones((4, 3), np.float32))
    np.save(bad / "paired_b.npy", np.ones((4, 2), np.float32))
    np.save(bad / "unpaired_a.npy", np.ones((5, 4), np.float32))
    np.save(bad / "unpaired_b.npy", np.ones((5, 2), np.float32))
    _expect_error(["train", str(bad), "--out", str(run)], "unpaired_a", capsys)
    np.save(bad / "unpaired_a.npy", np.full((5, 3), np.nan, np.float32))
    _expect_error(["train", str(bad), "--out", str(run)], "NaN", capsys)
    assert not run.exists()


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "gentleclip", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "demo" in done.stdout


def test_train_takes_a_shipped_recipe_by_name(tmp_path: Path, full_npz: Path, capsys) -> None:
    """--config molecules-gentle: the shipped recipe (head-only towers, 256 wide, the bag term),
    resolved into the run's config.yaml; an unknown name is one error line naming the
    recipes."""
    data, run = tmp_path / "data", tmp_path / "run"
    _split(full_npz, data, "--regime", "bags", "--bag-size", "8")
    argv = ["train", str(data), "--out", str(run), "--config", "molecules-gentle"]
    assert main([*argv, "--steps", "2", "--no-progress"]) == 0
    written = (run / "config.yaml").read_text(encoding="utf-8")
    assert "encoder_a: identity" in written and "embed_dim: 256" in written
    assert "w_bag: 1.0" in written and "unpaired_per_step: 128" in written
    capsys.readouterr()
    argv = ["train", str(data), "--out", str(tmp_path / "r2"), "--config", "molecules-gentl"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nor is it a shipped recipe" in err[0], err
    assert not (tmp_path / "r2").exists()
