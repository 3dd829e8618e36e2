"""Property-based bad-input tests of the CLI: exit code 2, one stderr line, no partial output.

Commands run in-process through :func:`gentleclip.cli.main.main` (one case through a real
``python -m gentleclip`` subprocess to prove the process exit code). Every fault must give
exit code 2, exactly one non-empty stderr line ``gentleclip: error: ...`` naming the problem,
no traceback, and leave no output directory or file behind (or an existing one unchanged).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file

from gentleclip.cli.main import main
from gentleclip.data.regimes import load_dataset_dir

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TINY_RECIPE = (
    "model: {embed_dim: 8, encoder_a_kwargs: {hidden_dims: [16]}, "
    "encoder_b_kwargs: {hidden_dims: [16]}}\n"
    "sampler: {pairs_per_step: 4, unpaired_per_step: 8}\n"
    "trainer: {progress: false}\n"
)


def _cli(*argv: object) -> tuple[int, str, list[str]]:
    """(exit code, stdout, non-empty stderr lines) of one in-process ``gentleclip`` call."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), [line for line in err.getvalue().splitlines() if line.strip()]


def _assert_bad_input(result: tuple[int, str, list[str]], pattern: str) -> str:
    """Exit code 2 and one ``gentleclip: error:`` line matching ``pattern``; return it."""
    code, _, lines = result
    assert code == 2, (code, lines)
    assert len(lines) == 1, lines
    assert lines[0].startswith("gentleclip: error: ") and "Traceback" not in lines[0], lines
    assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]


def _listing(directory: Path) -> list[str]:
    """Every path under ``directory`` (hidden temporaries included), sorted."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def _split_argv(full: Path, out: Path, pairs: int = 1, test_size: int = 1) -> list[object]:
    return ["split", full, "--out", out, "--pairs", pairs, "--test-size", test_size,
            "--regime", "bags"]  # fmt: skip


# ------------------------------------------------------------------ gentleclip split


@FUZZ
@given(data=st.data())
def test_split_faulty_npz_exit_2_and_writes_nothing(fuzz_kit: SimpleNamespace, data) -> None:
    arrays, pattern = data.draw(fuzz_kit.full_npz_fault())
    with tempfile.TemporaryDirectory() as tmp:
        full = fuzz_kit.write_npz(Path(tmp) / "full.npz", arrays)
        _assert_bad_input(_cli(*_split_argv(full, Path(tmp) / "out")), pattern)
        assert _listing(Path(tmp)) == ["full.npz"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_split_valid_npz_sizes_and_magnitudes(fuzz_kit: SimpleNamespace, data) -> None:
    """0/1/few rows and huge finite values: a complete directory, or exit 2 and nothing."""
    arrays = data.draw(fuzz_kit.valid_full())
    n = len(arrays["a"])
    pairs, test_size = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))
    regime = data.draw(st.sampled_from(["bags", "unpaired"]))
    feasible = test_size >= 1 and n - pairs - test_size >= (1 if regime == "bags" else 2)
    with tempfile.TemporaryDirectory() as tmp:
        full, out = fuzz_kit.write_npz(Path(tmp) / "full.npz", arrays), Path(tmp) / "out"
        argv = _split_argv(full, out, pairs, test_size)
        result = _cli(*argv[:-1], regime)
        if not feasible:
            _assert_bad_input(result, r"test_size must be >= 1|exceed the \d+ rows|rows left")
            assert _listing(Path(tmp)) == ["full.npz"]
            return
        assert result[0] == 0, result
        loaded = load_dataset_dir(out)
    rest = n - pairs - test_size
    assert loaded.n_pairs == pairs and loaded.n_eval == test_size
    if regime == "bags":  # both sides keep every remaining row, shuffled apart
        assert loaded.n_unpaired_a == loaded.n_unpaired_b == rest
    else:  # disjoint halves
        assert loaded.n_unpaired_a + loaded.n_unpaired_b == rest
    rows_a = {row.tobytes() for row in arrays["a"].astype(np.float32)}
    for part in (loaded.paired_a, loaded.unpaired_a, loaded.eval_a):
        assert np.isfinite(part).all() and all(row.tobytes() in rows_a for row in part)


@FUZZ
@given(data=st.data())
def test_split_corrupted_npz_never_leaves_partial_output(fuzz_kit: SimpleNamespace, data) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.arange(60.0).reshape(20, 3), b=np.ones((20, 2)))
    content = bytearray(buffer.getvalue())
    for _ in range(data.draw(st.integers(1, 3))):
        content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as tmp:
        full, out = Path(tmp) / "full.npz", Path(tmp) / "out"
        full.write_bytes(bytes(content))
        result = _cli(*_split_argv(full, out, pairs=2, test_size=5))
        if result[0] == 0:  # a flip nobody checks: the output must then be complete
            assert load_dataset_dir(out).n_pairs == 2
        else:
            _assert_bad_input(result, r"full\.npz")
            assert _listing(Path(tmp)) == ["full.npz"]


def test_split_bad_paths(tmp_path: Path) -> None:
    full = tmp_path / "full.npz"
    np.savez(full, a=np.ones((20, 3)), b=np.ones((20, 2)))
    _assert_bad_input(_cli(*_split_argv(tmp_path, tmp_path / "o1")), "is a directory")
    _assert_bad_input(_cli(*_split_argv(tmp_path / "no.npz", tmp_path / "o2")), "not found")
    # regression: FileExistsError / NotADirectoryError tracebacks
    _assert_bad_input(_cli(*_split_argv(full, full / "sub" / "out")), r"full\.npz is a file")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    _assert_bad_input(_cli(*_split_argv(full, occupied)), "not empty")
    assert _listing(tmp_path) == ["full.npz", "occupied", "occupied/keep.txt"]


def test_split_real_process_exit_code(tmp_path: Path) -> None:
    """The installed entry point really exits with status 2 and prints one line."""
    a = np.ones((10, 3))
    a[4, 1] = np.nan
    np.savez(tmp_path / "full.npz", a=a, b=np.ones((10, 2)))
    argv = [str(arg) for arg in _split_argv(tmp_path / "full.npz", tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-m", "gentleclip", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "gentleclip: error: full.npz['a']: contains NaN or Inf (or a value beyond float32), "
        "first at row 4"
    ]
    assert done.stdout == "" and not (tmp_path / "out").exists()


# ------------------------------------------------------------------ gentleclip train


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "tiny.yaml"
    path.write_text(TINY_RECIPE)
    return path


@FUZZ
@given(data=st.data())
def test_train_faulty_dataset_dir_exit_2_and_no_run_dir(
    fuzz_kit: SimpleNamespace, recipe: Path, data
) -> None:
    files, pattern = data.draw(fuzz_kit.dataset_fault())
    with tempfile.TemporaryDirectory() as tmp:
        fuzz_kit.write_files(Path(tmp) / "data", files)
        run = Path(tmp) / "run"
        _assert_bad_input(_cli("train", Path(tmp) / "data", "--out", run, "--config", recipe,
                               "--steps", 1), pattern.lstrip("^"))  # fmt: skip
        assert not run.exists()


def _small_dataset(path: Path, scale: float = 1.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    a = np.clip(rng.standard_normal((40, 5)) * scale, -3.3e38, 3.3e38)  # finite in float32
    b = rng.standard_normal((40, 3))
    files = {
        "paired_a": a[:8], "paired_b": b[:8], "unpaired_a": a[8:24], "unpaired_b": b[8:24],
        "unpaired_a_bags": np.repeat(np.arange(4), 4), "unpaired_b_bags": np.arange(16) % 4,
        "eval_a": a[24:], "eval_b": b[24:], "eval_labels": np.arange(16) % 3,
    }  # fmt: skip
    path.mkdir()
    for key, values in files.items():
        np.save(path / f"{key}.npy", values)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _small_dataset(tmp_path_factory.mktemp("ds") / "data")


RECIPE_FAULTS = [
    ("model: [1, 2\n", "not valid YAML"),
    ("\x00garbage", "not valid YAML"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("model: 3\n", "'model' must be a mapping"),
    ("frobnicate: 1\n", "unknown config key frobnicate"),
    ("model: {frobnicate: 1}\n", "unknown config key model.frobnicate"),
    ("model: {embed_dim: 1.5}\n", "model.embed_dim has a bad value"),
    ("model: {embed_dim: -4}\n", "model.embed_dim must be > 0"),
    ("optim: {lr: .nan}\n", "optim.lr must be finite"),
    ("optim: {steps: 0}\n", "optim.steps must be >= 1"),
    ("sampler: {pairs_per_step: [1]}\n", "sampler.pairs_per_step has a bad value"),
]


@pytest.mark.parametrize(("text", "pattern"), RECIPE_FAULTS)
def test_train_bad_recipe(tmp_path: Path, dataset: Path, text: str, pattern: str) -> None:
    config = tmp_path / "recipe.yaml"
    config.write_text(text)
    run = tmp_path / "run"
    _assert_bad_input(_cli("train", dataset, "--out", run, "--config", config), pattern)
    assert not run.exists()


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("binary_recipe", "config file"),
        ("inf_lr", "optim.lr"),
        ("nan_weight", "loss.w_sdd"),
        # found by this suite and fixed (were tracebacks, a NaN run, or a left run dir)
        ("unknown_encoder", "unknown encoder"),
        ("out_is_file", "not a directory|is a file"),
        ("accelerator", "tpu9"),
        ("devices", "devices"),
    ],
)  # fmt: skip
def test_train_bad_options(
    tmp_path: Path, dataset: Path, recipe: Path, case: str, pattern: str
) -> None:
    """Bad recipe values and trainer options: exit 2, one line, the run dir untouched."""
    run, config = tmp_path / "run", tmp_path / "recipe.yaml"
    extra: list[object] = ["--config", config]
    recipes = {
        "binary_recipe": b"\xff\xfe\x00model: 1",
        "inf_lr": b"optim: {lr: .inf}\n",
        "nan_weight": b"loss: {w_sdd: .nan}\n",
        "unknown_encoder": b"model: {encoder_a: nonexistent}\n",
    }
    config.write_bytes(recipes.get(case, TINY_RECIPE.encode()))
    if case == "out_is_file":
        run.write_text("a file")
    if case in ("accelerator", "devices"):
        extra += [f"--{case}", "tpu9" if case == "accelerator" else "abc"]
    before = _listing(tmp_path)
    try:
        result = _cli("train", dataset, "--out", run, "--steps", 2, *extra)
    except Exception as err:  # a traceback in real use
        pytest.fail(f"{type(err).__name__}: {err}")
    _assert_bad_input(result, pattern)
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("scale", [1e30, 2e38])
def test_train_huge_finite_magnitudes(tmp_path: Path, recipe: Path, scale: float) -> None:
    """Huge finite features are valid input: a finite model, or exit 2 and no run dir."""
    data = _small_dataset(tmp_path / "data", scale=scale)
    run = tmp_path / "run"
    result = _cli("train", data, "--out", run, "--config", recipe, "--steps", 3)
    if result[0] != 0:
        _assert_bad_input(result, "too large|magnitude|overflow")
        assert not run.exists()
        return
    weights = load_file(run / "model" / "model.safetensors")
    assert all(np.isfinite(w).all() for w in weights.values())
    code, _, lines = _cli("eval", run, "--data", data, "--json", tmp_path / "m.json",
                          "--figure", tmp_path / "f.png")  # fmt: skip
    assert code == 0, lines
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics and all(np.isfinite(v) for v in metrics.values())


# ------------------------------------------------------------------ gentleclip eval / embed


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, dataset: Path, recipe: Path) -> Path:
    """A run trained for 2 steps on the 5-D / 3-D ``dataset``."""
    run = tmp_path_factory.mktemp("trained") / "run"
    code, _, lines = _cli("train", dataset, "--out", run, "--config", recipe, "--steps", 2)
    assert code == 0, lines
    return run


def _broken_run(trained: Path, where: Path, damage: str) -> Path:
    run = where / "broken"
    shutil.copytree(trained / "model", run / "model")
    weights, config = run / "model" / "model.safetensors", run / "model" / "config.json"
    if damage == "no_model":
        shutil.rmtree(run / "model")
    elif damage == "no_weights":
        weights.unlink()
    elif damage == "garbage_weights":
        weights.write_bytes(b"\x00" * 5)
    elif damage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage_config":
        config.write_text("{not json")
    elif damage == "foreign_config":
        config.write_text(json.dumps({"format": "something-else"}))
    return run


@pytest.mark.parametrize(
    "damage",
    ["no_model", "no_weights", "garbage_weights", "truncated_weights", "garbage_config",
     "foreign_config"],
)  # fmt: skip
def test_eval_and_embed_with_broken_model(
    tmp_path: Path, trained: Path, dataset: Path, damage: str
) -> None:
    run = _broken_run(trained, tmp_path, damage)
    x = tmp_path / "x.npy"
    np.save(x, np.ones((3, 5)))
    before = _listing(tmp_path)
    pattern = r"model|config|weights"
    _assert_bad_input(_cli("eval", run, "--data", dataset, "--json", tmp_path / "m.json"),
                      pattern)  # fmt: skip
    _assert_bad_input(
        _cli("embed", run, "--side", "a", "--input", x, "--output", tmp_path / "z.npy"), pattern
    )
    assert _listing(tmp_path) == before


@FUZZ
@given(data=st.data())
def test_embed_faulty_input_exit_2_and_no_output(trained: Path, data) -> None:
    side = data.draw(st.sampled_from(["a", "b"]))
    dim = 5 if side == "a" else 3
    kind = data.draw(st.sampled_from(["dims", "nonfinite", "empty", "ndim", "dtype", "huge"]))
    rows = data.draw(st.integers(1, 6))
    values = np.random.default_rng(rows).standard_normal((rows, dim))
    if kind == "dims":
        values = np.ones((rows, dim + data.draw(st.sampled_from([-1, 1, 7]))))
        pattern = rf"side '{side}': expected shape \(N, {dim}\)"
    elif kind == "nonfinite":
        values[data.draw(st.integers(0, rows - 1)), 0] = data.draw(st.sampled_from([np.nan, 1e39]))
        pattern = "contains NaN or Inf"
    elif kind == "empty":
        values, pattern = np.zeros((0, dim)), "has 0 rows"
    elif kind == "ndim":
        values, pattern = values[None], "expected a 2-D array"
    elif kind == "dtype":
        values, pattern = values.astype(np.complex64), "expected real numbers"
    else:  # finite but far outside what the model saw: used to write NaN embeddings
        values, pattern = values * 1e30, "NaN/Inf: input values too large for this model"
    with tempfile.TemporaryDirectory() as tmp:
        x, z = Path(tmp) / "x.npy", Path(tmp) / "z.npy"
        np.save(x, values)
        result = _cli("embed", trained, "--side", side, "--input", x, "--output", z)
        _assert_bad_input(result, pattern)
        assert _listing(Path(tmp)) == ["x.npy"]


def test_embed_bad_output_paths(tmp_path: Path, trained: Path) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.ones((2, 5)))
    embed = ["embed", trained, "--side", "a", "--input", x, "--output"]
    _assert_bad_input(_cli(*embed, tmp_path), "is a directory")  # was IsADirectoryError
    _assert_bad_input(_cli(*embed, tmp_path / "no" / "z.npy"), "does not exist")
    _assert_bad_input(_cli(*embed, x / "z.npy"), "x.npy is a file, not a directory")
    assert _listing(tmp_path) == ["x.npy"]


@pytest.mark.parametrize("fault", ["dims", "no_eval", "json_dir", "figure_dir", "under_file"])
def test_eval_faults_exit_2_and_no_output(tmp_path: Path, trained: Path, fault: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "eval_a.npy", np.ones((4, 5 if fault != "dims" else 4)))
    np.save(data / "eval_b.npy", np.ones((4, 3)))
    if fault == "no_eval":
        for key in ("a", "b"):
            (data / f"eval_{key}.npy").rename(data / f"paired_{key}.npy")
    json_out, figure = tmp_path / "m.json", tmp_path / "f.png"
    if fault == "json_dir":
        json_out = tmp_path
    elif fault == "figure_dir":
        figure = tmp_path
    elif fault == "under_file":
        json_out = data / "eval_b.npy" / "m.json"
    patterns = {
        "dims": r"side 'a': expected shape \(N, 5\), got \(4, 4\)",
        "no_eval": "no evaluation data",
        "json_dir": "--json .*is a directory",
        "figure_dir": "--figure .*is a directory",
        "under_file": r"eval_b\.npy is a file",
    }
    before = _listing(tmp_path)
    result = _cli("eval", trained, "--data", data, "--json", json_out, "--figure", figure)
    _assert_bad_input(result, patterns[fault])
    assert _listing(tmp_path) == before
