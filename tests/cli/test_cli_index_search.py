"""`gentleclip index` + `gentleclip search` on a tiny trained run, through `main([...])`."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from gentleclip.cli.main import main
from gentleclip.models import TwoTower

pytest.importorskip("faiss")

MODEL_FILES = ("config.json", "model.safetensors")


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, full_data: Callable[..., dict[str, np.ndarray]]
) -> tuple[Path, Path]:
    """(data dir, run dir) of a 3-step run trained through the CLI."""
    root = tmp_path_factory.mktemp("index_search")
    np.savez(root / "full.npz", **full_data(n=120))
    recipe = root / "tiny.yaml"
    recipe.write_text(
        "model: {embed_dim: 16, encoder_a_kwargs: {hidden_dims: [32]}, "
        "encoder_b_kwargs: {hidden_dims: [32]}}\n"
        "sampler: {pairs_per_step: 8, unpaired_per_step: 32}\n"
        "trainer: {progress: false}\n"
    )
    data, run = root / "data", root / "run"
    split = ["split", str(root / "full.npz"), "--out", str(data), "--pairs", "10"]
    assert main([*split, "--test-size", "40", "--regime", "bags"]) == 0
    assert (
        main(["train", str(data), "--out", str(run), "--config", str(recipe), "--steps", "3"]) == 0
    )
    return data, run


def _brute_force(run: Path, gallery: np.ndarray, queries: np.ndarray, k: int):
    """Reference: TwoTower.encode both sides, then a float64 loop over every query."""
    model = TwoTower.from_pretrained(run / "model")
    with torch.no_grad():
        zb = model.encode("b", torch.from_numpy(gallery)).double().numpy()
        za = model.encode("a", torch.from_numpy(queries)).double().numpy()
    indices, scores = [], []
    for q in za:
        sims = np.array([float(np.dot(q, g)) for g in zb])
        order = np.argsort(-sims, kind="stable")[:k]
        indices.append(order)
        scores.append(sims[order])
    return np.array(indices), np.array(scores)


def test_index_and_search_match_brute_force(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained
    gallery, queries = np.load(data / "eval_b.npy"), np.load(data / "eval_a.npy")
    ref_idx, ref_val = _brute_force(run, gallery, queries, 5)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"b{i}\n" for i in range(len(gallery))))
    ix = tmp_path / "ix"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    assert main([*argv, "--out", str(ix), "--ids", str(ids), "--batch-size", "7"]) == 0
    assert json.loads((ix / "index.json").read_text())["side"] == "b"
    out = tmp_path / "res.npz"
    assert (
        main(
            ["search", str(ix), "--query", str(data / "eval_a.npy"), "--k", "5", "--out", str(out)]
        )
        == 0
    )
    res = np.load(out)
    np.testing.assert_array_equal(res["indices"], ref_idx)
    np.testing.assert_allclose(res["scores"].astype(np.float64), ref_val, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(res["ids"], np.char.add("b", ref_idx.astype(str)))
    out_csv = tmp_path / "res.csv"
    assert (
        main(
            [
                "search",
                str(ix),
                "--query",
                str(data / "eval_a.npy"),
                "--k",
                "5",
                "--out",
                str(out_csv),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 5 * len(queries)
    assert [int(r["index"]) for r in rows[:5]] == list(ref_idx[0])
    assert rows[0]["id"] == f"b{ref_idx[0, 0]}" and rows[4]["rank"] == "5"


def test_ivf_all_cells_and_embedded_inputs(
    trained: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    data, run = trained
    gallery, queries = np.load(data / "eval_b.npy"), np.load(data / "eval_a.npy")
    ref_idx, ref_val = _brute_force(run, gallery, queries, 3)
    ivf = tmp_path / "ivf"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    assert main([*argv, "--out", str(ivf), "--kind", "ivf", "--nlist", "4", "--nprobe", "4"]) == 0
    out = tmp_path / "ivf.npz"
    assert (
        main(
            ["search", str(ivf), "--query", str(data / "eval_a.npy"), "--k", "3", "--out", str(out)]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(out)["indices"], ref_idx)
    assert "QPS" in capsys.readouterr().out
    # precomputed embeddings on both sides
    emb_b, emb_a = tmp_path / "zb.npy", tmp_path / "za.npy"
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
                str(emb_b),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "embed",
                str(run),
                "--side",
                "a",
                "--input",
                str(data / "eval_a.npy"),
                "--output",
                str(emb_a),
            ]
        )
        == 0
    )
    pre = tmp_path / "pre"
    assert (
        main(
            [
                "index",
                str(run),
                "--side",
                "b",
                "--input",
                str(emb_b),
                "--embedded",
                "--out",
                str(pre),
            ]
        )
        == 0
    )
    out2 = tmp_path / "pre.npz"
    assert (
        main(
            [
                "search",
                str(pre),
                "--query",
                str(emb_a),
                "--embedded",
                "--k",
                "3",
                "--out",
                str(out2),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(out2)["indices"], ref_idx)
    np.testing.assert_allclose(np.load(out2)["scores"], ref_val, atol=1e-5, rtol=0)


def _expect_error(argv: list[str], needle: str, capsys) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gentleclip: error:") and needle in err[0], err


def test_bad_input_exit_2_and_nothing_written(
    trained: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    data, run = trained
    eval_a, eval_b = str(data / "eval_a.npy"), str(data / "eval_b.npy")
    nan = tmp_path / "nan.npy"
    values = np.load(eval_b)
    values[5, 2] = np.nan
    np.save(nan, values)
    ix, new = tmp_path / "ix", tmp_path / "new"
    base = ["index", str(run), "--side", "b", "--input"]
    assert main([*base, eval_b, "--out", str(ix)]) == 0
    for argv, needle in [
        ([*base, str(nan), "--out", str(new)], "first at row 5"),
        ([*base, eval_a, "--out", str(new)], "12 columns"),
        ([*base, eval_b, "--out", str(new), "--kind", "hnsw"], "unknown index kind"),
        ([*base, eval_b, "--out", str(new), "--kind", "ivf", "--nlist", "41"], "nlist (41)"),
        ([*base, str(tmp_path / "nope.npy"), "--out", str(new)], "nope.npy"),
        ([*base, eval_b, "--out", str(new), "--ids", str(nan)], "ids"),
    ]:
        _expect_error(argv, needle, capsys)
        assert not new.exists()
    out = tmp_path / "res.npz"
    search = ["search", str(ix), "--query"]
    bad_query = tmp_path / "nanq.npy"
    np.save(bad_query, np.full((3, 12), np.nan, np.float32))
    for argv, needle in [
        ([*search, eval_a, "--k", "0", "--out", str(out)], "--k"),
        ([*search, eval_a, "--k", "41", "--out", str(out)], "exceeds"),
        ([*search, eval_b, "--out", str(out)], "7 columns"),
        ([*search, str(bad_query), "--out", str(out)], "NaN"),
        ([*search, eval_a, "--nprobe", "2", "--out", str(out)], "nprobe"),
        ([*search, eval_a, "--out", str(tmp_path / "res.txt")], ".npz or .csv"),
        (["search", str(tmp_path / "none"), "--query", eval_a, "--out", str(out)], "none"),
    ]:
        _expect_error(argv, needle, capsys)
        assert not out.exists()
    (ix / "index.faiss").write_bytes(b"corrupt" * 9)
    _expect_error([*search, eval_a, "--out", str(out)], "index.faiss", capsys)
    assert not out.exists() and [p.name for p in tmp_path.glob(".*")] == []


def _copy_model(run: Path, dest: Path) -> Path:
    """``dest``, a run folder holding a byte copy of ``run``'s model files."""
    (dest / "model").mkdir(parents=True)
    for name in MODEL_FILES:
        (dest / "model" / name).write_bytes((run / "model" / name).read_bytes())
    return dest


def test_changed_model_is_refused(trained: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, run = trained
    copy = _copy_model(run, tmp_path / "run")
    ix = tmp_path / "ix"
    assert (
        main(
            [
                "index",
                str(copy),
                "--side",
                "a",
                "--input",
                str(data / "eval_a.npy"),
                "--out",
                str(ix),
            ]
        )
        == 0
    )
    config = copy / "model" / "config.json"
    config.write_text(config.read_text() + "\n")  # same model, different bytes
    _expect_error(["search", str(ix), "--query", str(data / "eval_b.npy")], "rebuild", capsys)
    assert main(["search", str(ix), "--query", str(data / "eval_b.npy"), "--run", str(run)]) == 0


def test_short_ivf_results_are_dropped_and_warned(
    trained: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    data, run = trained
    eval_a, ivf = str(data / "eval_a.npy"), tmp_path / "ivf"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"b{i}\n" for i in range(40)))
    ivf_argv = [*argv, "--out", str(ivf), "--kind", "ivf", "--nlist", "10"]
    assert main([*ivf_argv, "--ids", str(ids)]) == 0
    capsys.readouterr()
    search = ["search", str(ivf), "--query", eval_a, "--k", "30", "--nprobe", "1"]
    assert main([*search, "--out", str(tmp_path / "hits.npz")]) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "fewer than 30 hits" in warning[0] and "--nprobe" in warning[0]
    res = np.load(tmp_path / "hits.npz")
    counts = res["counts"]
    assert counts.shape == (40,) and (counts < 30).all() and (counts > 0).all()
    padded = np.arange(30)[None, :] >= counts[:, None]
    assert (res["indices"][padded] == -1).all() and np.isnan(res["scores"][padded]).all()
    assert (res["indices"][~padded] >= 0).all() and np.isfinite(res["scores"][~padded]).all()
    assert (res["ids"][padded] == "").all() and (res["ids"][~padded] != "").all()
    assert main([*search, "--out", str(tmp_path / "hits.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "hits.csv").open()))
    assert len(rows) == counts.sum() and all(int(r["index"]) >= 0 and r["id"] for r in rows)
    assert all(-1.01 <= float(r["score"]) <= 1.01 for r in rows)
    assert [int(r["index"]) for r in rows[: counts[0]]] == list(res["indices"][0, : counts[0]])
    capsys.readouterr()
    assert main(search) == 0
    printed = capsys.readouterr().out
    assert "-1 (" not in printed and "e+38" not in printed and "nan" not in printed


def test_duplicate_or_blank_ids_are_refused(
    trained: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    data, run = trained
    ix, ids, ids_npy = tmp_path / "ix", tmp_path / "ids.txt", tmp_path / "ids.npy"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    names = [f"b{i}" for i in range(40)]
    for lines, needle in [
        ([*names[:4], "b1", *names[5:]], "duplicate id 'b1' on lines 2 and 5"),
        ([*names[:6], "", *names[7:]], "blank id on line 7"),
        ([*names[:39], "  "], "blank id on line 40"),
    ]:
        ids.write_text("\n".join(lines) + "\n")
        _expect_error([*argv, "--out", str(ix), "--ids", str(ids)], needle, capsys)
        assert not ix.exists()
    np.save(ids_npy, np.r_[np.arange(39), 3])
    _expect_error([*argv, "--out", str(ix), "--ids", str(ids_npy)], "on rows 3 and 39", capsys)
    assert not ix.exists()


def test_run_errors_name_the_path_given(trained: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    data, run = trained
    copy = _copy_model(run, tmp_path / "copy")
    ix, eval_a = tmp_path / "ix", str(data / "eval_a.npy")
    argv = ["index", str(copy), "--side", "b", "--input", str(data / "eval_b.npy")]
    assert main([*argv, "--out", str(ix)]) == 0
    not_run = tmp_path / "not_a_run"
    not_run.mkdir()
    search = ["search", str(ix), "--query", eval_a, "--run"]
    _expect_error([*search, str(not_run)], f"--run {not_run} is not a training run", capsys)
    _expect_error([*search, str(tmp_path / "nope")], "nope: directory not found", capsys)
    for name in MODEL_FILES:
        (copy / "model" / name).unlink()
    (copy / "model").rmdir()
    _expect_error(["search", str(ix), "--query", eval_a], "(recorded in", capsys)
    assert main([*search, str(run)]) == 0


def test_bad_out_path_is_refused_before_searching(
    trained: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    data, run = trained
    ix = tmp_path / "ix"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    assert main([*argv, "--out", str(ix)]) == 0
    (tmp_path / "dd.npz").mkdir()
    (tmp_path / "file").write_text("x")
    search = ["search", str(ix), "--query", str(data / "eval_a.npy"), "--out"]
    for out, needle in [
        (tmp_path / "dd.npz", "dd.npz: is a directory"),
        (tmp_path / "file" / "hits.csv", "file is a file, not a directory"),
        (tmp_path / "file" / "sub" / "hits.csv", "file is a file, not a directory"),
        (tmp_path / "missing" / "hits.npz", "missing does not exist"),
    ]:
        _expect_error([*search, str(out)], needle, capsys)
    assert "searched" not in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dd.npz", "file", "ix"]
    assert list((tmp_path / "dd.npz").iterdir()) == []


def test_index_and_search_take_a_fitted_baseline(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """A `gentleclip fit` run indexes and searches as a trained run does."""
    from gentleclip.baselines.saved import load_embedder

    data = trained[0]
    run = tmp_path / "cca"
    assert main(["fit", str(data), "--method", "cca", "--out", str(run)]) == 0
    fitted = load_embedder(run / "model")
    gallery, queries = np.load(data / "eval_b.npy"), np.load(data / "eval_a.npy")
    zb = fitted.encode("b", gallery).double().numpy()
    za = fitted.encode("a", queries).double().numpy()
    ref = np.argsort(-(za @ zb.T), axis=1, kind="stable")[:, :3]
    ix = tmp_path / "ix"
    argv = ["index", str(run), "--side", "b", "--input", str(data / "eval_b.npy")]
    assert main([*argv, "--out", str(ix)]) == 0
    out = tmp_path / "res.npz"
    argv = ["search", str(ix), "--query", str(data / "eval_a.npy"), "--k", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out)["indices"], ref)
    bad = tmp_path / "wide.npy"
    np.save(bad, np.zeros((2, gallery.shape[1] + 1), dtype=np.float32))
    argv = ["index", str(run), "--side", "b", "--input", str(bad), "--out", str(tmp_path / "i2")]
    assert main(argv) == 2
