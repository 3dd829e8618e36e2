"""`gentleclip fit`: closed-form baselines on a split directory, saved and used like runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gentleclip.baselines import get_baseline
from gentleclip.baselines.saved import load_embedder, save_embedder
from gentleclip.cli.main import main
from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.evaluation.run import evaluate


@pytest.fixture
def data_dir(tmp_path: Path, full_npz: Path) -> Path:
    out = tmp_path / "data"
    argv = ["split", str(full_npz), "--out", str(out), "--pairs", "20", "--test-size", "40"]
    assert main([*argv, "--regime", "bags", "--bag-size", "8"]) == 0
    return out


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("ridge", {"alpha": 0.1}),
        ("procrustes", {"components": 4, "whiten": True}),
        ("cca", {"components": 3}),
        ("relrep", {"top_k": 5, "power": 3.0}),
    ],
)
def test_fit_saves_the_map_the_library_fits_and_eval_and_embed_use_it(
    tmp_path: Path, data_dir: Path, method: str, params: dict, capsys
) -> None:
    run = tmp_path / "run"
    flags = [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
    assert main(["fit", str(data_dir), "--method", method, "--out", str(run), *flags]) == 0
    assert f"fitted {method} on 20 pairs" in capsys.readouterr().out
    summary = json.loads((run / "fit.json").read_text())
    assert summary["params"] == {**get_baseline(method).defaults, **params}
    data = load_dataset_dir(data_dir, require_eval=True)
    fitted = get_baseline(method).fit(data, params)
    loaded = load_embedder(run / "model")
    assert loaded.method == method and loaded.dim == fitted.dim == summary["dim"]
    for side, rows in (("a", data.eval_a), ("b", data.eval_b)):
        assert np.array_equal(loaded.encode(side, rows).numpy(), fitted.encode(side, rows).numpy())
    metrics = tmp_path / "metrics.json"
    assert main(["eval", str(run), "--data", str(data_dir), "--json", str(metrics)]) == 0
    expected = evaluate(fitted, data.eval_a, data.eval_b, data.eval_labels)
    assert json.loads(metrics.read_text()) == pytest.approx(expected)
    np.save(tmp_path / "x.npy", data.eval_b)
    out = tmp_path / "z.npy"
    argv = ["embed", str(run), "--side", "b", "--input", str(tmp_path / "x.npy")]
    assert main([*argv, "--output", str(out)]) == 0
    assert np.array_equal(np.load(out), fitted.encode("b", data.eval_b).numpy())


def test_eval_counts_ties_by_the_rule_asked_for(tmp_path: Path, data_dir: Path) -> None:
    """A map that ties many items (relrep's top-1 codes give most items a similarity of 0)
    scores lower with ties counted by expectation, the default, than as hits."""
    run = tmp_path / "run"
    flags = ["--param", "top_k=1", "--param", "power=1"]
    assert main(["fit", str(data_dir), "--method", "relrep", "--out", str(run), *flags]) == 0
    data = load_dataset_dir(data_dir, require_eval=True)
    fitted = get_baseline("relrep").fit(data, {"top_k": 1, "power": 1.0})
    got = {}
    for rule in ("expected", "optimistic"):
        out = tmp_path / f"{rule}.json"
        argv = ["eval", str(run), "--data", str(data_dir), "--json", str(out), "--ties", rule]
        assert main(argv) == 0
        got[rule] = json.loads(out.read_text())
        want = evaluate(fitted, data.eval_a, data.eval_b, data.eval_labels, ties=rule)
        assert got[rule] == pytest.approx(want)
    assert got["expected"]["a_to_b_R@10"] < got["optimistic"]["a_to_b_R@10"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--param", "components"], "expected NAME=VALUE"),
        (["--param", "colour=red"], "unknown procrustes parameter 'colour'"),
        (["--param", "components=[1, 2]"], "single number"),
        (["--param", "components=abc"], "components must be an integer >= 1, got 'abc'"),
        (["--param", "whiten=maybe"], "whiten must be true or false"),
    ],
)
def test_bad_params_give_one_line_and_exit_2(
    tmp_path: Path, data_dir: Path, flags: list, message: str, capsys
) -> None:
    argv = ["fit", str(data_dir), "--method", "procrustes", "--out", str(tmp_path / "r")]
    assert main([*argv, *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_fit_refuses_an_existing_model_and_a_directory_without_pairs(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    run = tmp_path / "run"
    argv = ["fit", str(data_dir), "--method", "ridge", "--out", str(run)]
    assert main(argv) == 0
    before = (run / "model" / "model.safetensors").read_bytes()
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert (run / "model" / "model.safetensors").read_bytes() == before
    no_pairs = tmp_path / "nopairs"
    no_pairs.mkdir()
    for name in ("unpaired_a", "unpaired_b"):
        np.save(no_pairs / f"{name}.npy", np.load(data_dir / f"{name}.npy"))
    argv = ["fit", str(no_pairs), "--method", "ridge", "--out", str(tmp_path / "r2")]
    assert main(argv) == 2
    assert "ridge needs pairs: the training data has 0 matched pairs" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_load_refuses_foreign_or_damaged_files(tmp_path: Path, data_dir: Path) -> None:
    data = load_dataset_dir(data_dir)
    folder = save_embedder(
        get_baseline("cca").fit(data, {}), tmp_path / "m", method="cca", params={}
    )
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(InputError, match="format is 'other'"):
        load_embedder(folder)
    (folder / "config.json").write_text(json.dumps({**config, "kind": "relrep"}))
    with pytest.raises(InputError, match=r"missing array 'bases\.a'"):
        load_embedder(folder)
    (folder / "config.json").write_text(json.dumps({**config, "scalars": {"top_k": 3}}))
    with pytest.raises(InputError, match="unexpected setting 'top_k'"):
        load_embedder(folder)
    relrep = save_embedder(
        get_baseline("relrep").fit(data, {}), tmp_path / "r", method="relrep", params={}
    )
    relrep_config = json.loads((relrep / "config.json").read_text())
    relrep_config["scalars"]["power"] = "high"
    (relrep / "config.json").write_text(json.dumps(relrep_config))
    with pytest.raises(InputError, match="do not fit together"):
        load_embedder(relrep)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="cannot read model weights"):
        load_embedder(folder)
    with pytest.raises(InputError, match="model directory not found"):
        load_embedder(tmp_path / "absent")


def test_load_refuses_arrays_that_do_not_fit_together(tmp_path: Path, data_dir: Path) -> None:
    from safetensors.numpy import load_file, save_file

    data = load_dataset_dir(data_dir)
    fitted = get_baseline("ridge").fit(data, {})
    folder = save_embedder(fitted, tmp_path / "m", method="ridge", params={})
    arrays = load_file(str(folder / "model.safetensors"))
    arrays["weights.a"] = arrays["weights.a"][:-1]  # one input row short of the standardiser
    save_file(arrays, str(folder / "model.safetensors"))
    with pytest.raises(InputError, match="side-a arrays do not fit together"):
        load_embedder(folder)


def test_a_failed_save_leaves_no_file(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gentleclip.baselines import saved

    def broken_save(arrays: object, filename: str) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(saved, "save_file", broken_save)
    fitted = get_baseline("ridge").fit(load_dataset_dir(data_dir), {})
    with pytest.raises(OSError, match="disk full"):
        save_embedder(fitted, tmp_path / "m", method="ridge", params={})
    assert list((tmp_path / "m").iterdir()) == []


def test_fit_with_bag_means_adds_one_pair_per_bag(tmp_path: Path, data_dir: Path, capsys) -> None:
    """--bag-means fits on the pairs plus each bag's means (what the bench's ridge-bagmeans
    fits); fit.json counts both; a directory without bags is refused, naming the files."""
    run = tmp_path / "run"
    argv = ["fit", str(data_dir), "--method", "ridge", "--out", str(run), "--bag-means"]
    assert main(argv) == 0
    data = load_dataset_dir(data_dir, require_eval=True)
    summary = json.loads((run / "fit.json").read_text())
    assert summary["pairs"] == 20 and summary["bag_mean_pairs"] == data.n_bags > 1
    assert f"fitted ridge on 20 pairs + {data.n_bags} bag means" in capsys.readouterr().out
    fitted = get_baseline("ridge").fit(data_with_bag_means(data), {})
    plain = get_baseline("ridge").fit(data, {})
    loaded = load_embedder(run / "model")
    z = loaded.encode("a", data.eval_a).numpy()
    assert np.array_equal(z, fitted.encode("a", data.eval_a).numpy())
    assert not np.allclose(z, plain.encode("a", data.eval_a).numpy())
    no_bags = tmp_path / "nobags"
    no_bags.mkdir()
    for name in ("paired_a", "paired_b", "unpaired_a", "unpaired_b"):
        np.save(no_bags / f"{name}.npy", np.load(data_dir / f"{name}.npy"))
    argv = ["fit", str(no_bags), "--method", "ridge", "--out", str(tmp_path / "r3"), "--bag-means"]
    assert main(argv) == 2
    assert "bag means need bags (unpaired_a_bags / unpaired_b_bags)" in capsys.readouterr().err
    assert not (tmp_path / "r3").exists()


def test_a_shipped_dataset_s_directory_gets_the_bench_s_map_parameters(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    """A split.json naming molecules gives every map scale=false, as the bench fits them
    (also each --tune candidate); --param overrides it, with --tune too; another dataset keeps
    the default."""
    settings = json.loads((data_dir / "split.json").read_text())

    def fit(name: str, dataset: str, *extra: str) -> dict:
        (data_dir / "split.json").write_text(json.dumps({**settings, "dataset": dataset}))
        argv = ["fit", str(data_dir), "--out", str(tmp_path / name), *extra]
        assert main(argv) == 0
        return json.loads((tmp_path / name / "fit.json").read_text())

    assert fit("a", "molecules", "--method", "ridge")["params"]["scale"] is False
    assert "molecules data: scale=false, as the bench fits" in capsys.readouterr().out
    assert fit("b", "molecules", "--method", "ridge", "--param", "scale=true")["params"]["scale"]
    tuned = fit("c", "molecules", "--method", "auto", "--tune")
    assert tuned["params"]["scale"] is False
    assert {c["params"]["scale"] for c in tuned["tuned"]["candidates"]} == {False}
    scaled = fit("e", "molecules", "--method", "auto", "--tune", "--param", "scale=true")
    assert {c["params"]["scale"] for c in scaled["tuned"]["candidates"]} == {True}
    capsys.readouterr()
    assert fit("d", "mfeat", "--method", "ridge")["params"]["scale"] is True
    assert "data: scale" not in capsys.readouterr().out


def test_tune_fixes_only_parameters_its_candidates_leave_alone(
    tmp_path: Path, data_dir: Path, capsys
) -> None:
    argv = ["fit", str(data_dir), "--out", str(tmp_path / "run"), "--tune"]
    assert main([*argv, "--method", "ridge", "--param", "alpha=0.1"]) == 2
    assert "--param alpha: --tune chooses it for ridge" in capsys.readouterr().err
    assert main([*argv, "--method", "auto", "--param", "scael=false"]) == 2
    assert "scael" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
