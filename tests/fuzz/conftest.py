"""Generators of valid and faulty gentleclip inputs shared by the fuzz tests.

Each fault strategy draws a valid input, breaks it in exactly one way and returns the broken
input together with a regular expression the one-line error message must match. The
strategies are handed out by the session fixture ``fuzz_kit`` (test modules cannot import
each other under ``--import-mode=importlib``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

FEATURES = ("paired_a", "paired_b", "unpaired_a", "unpaired_b", "eval_a", "eval_b")
BAGS = ("unpaired_a_bags", "unpaired_b_bags")
LABELS = "eval_labels"
BAD_VALUES = (np.nan, np.inf, -np.inf, 1e39, -1e39)  # the last two overflow float32
DIRECTORY = "<directory>"  # in a file mapping: create a directory under this name

Files = dict[str, Any]  # stem -> array, raw bytes, or DIRECTORY
Fault = tuple[Files, str]  # broken files, regex of the expected message


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()


def write_files(directory: Path, files: Files, suffix: str = ".npy") -> None:
    """Write ``files`` into ``directory`` (object arrays pickled, as a careless user would)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stem, value in files.items():
        path = directory / f"{stem}{suffix}"
        if isinstance(value, str) and value == DIRECTORY:
            path.mkdir()
        elif isinstance(value, bytes):
            path.write_bytes(value)
        else:
            np.save(path, value, allow_pickle=True)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Save arrays as an ``.npz`` (pickling object arrays, which the loader must refuse)."""
    np.savez(path, **arrays)
    return path


# ---------------------------------------------------------------------- valid inputs


@st.composite
def valid_full(draw: st.DrawFn, min_rows: int = 0) -> dict[str, np.ndarray]:
    """A fully paired ``{a, b, labels}`` with any row count and finite, maybe huge, values."""
    n = draw(st.integers(min_rows, min_rows + 12))
    dim_a, dim_b = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    scale = draw(st.sampled_from([1.0, 1e-30, 1e30, 3e37]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int64]))
    a = rng.standard_normal((n, dim_a)) * (1.0 if dtype in (np.float16, np.int64) else scale)
    b = rng.standard_normal((n, dim_b)) * 3
    return {"a": a.astype(dtype), "b": b.astype(dtype), "labels": rng.integers(0, 4, n)}


def _bag_ids(rng: np.random.Generator, ids: np.ndarray, n_rows: int) -> np.ndarray:
    """Each id at least once (n_rows >= len(ids)), the rest random, in random order."""
    rows = np.concatenate([ids, rng.choice(ids, n_rows - ids.size)])
    return rng.permutation(rows).astype(np.int64)


@st.composite
def valid_dataset(draw: st.DrawFn, bags: bool | None = None) -> Files:
    """A consistent dataset directory: pairs (maybe 0), unpaired rows (maybe bagged), eval."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_pairs, n_eval = draw(st.integers(0, 5)), draw(st.integers(1, 5))
    n_ua, n_ub = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    dim_a, dim_b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    scale = draw(st.sampled_from([1.0, 1e-20, 1e30]))
    files: Files = {}
    for side, dim in (("a", dim_a), ("b", dim_b)):
        for part, rows in (("paired", n_pairs), ("unpaired", n_ua if side == "a" else n_ub)):
            files[f"{part}_{side}"] = rng.standard_normal((rows, dim)) * scale
        files[f"eval_{side}"] = rng.standard_normal((n_eval, dim)).astype(np.float32)
    files[LABELS] = rng.integers(0, 3, n_eval)
    if bags is None:
        bags = draw(st.booleans())
    if bags:
        n_bags = draw(st.integers(1, min(n_ua, n_ub)))
        ids = np.array(
            draw(
                st.lists(
                    st.integers(-(2**62), 2**62), min_size=n_bags, max_size=n_bags, unique=True
                )
            ),
            dtype=np.int64,
        )
        files[BAGS[0]] = _bag_ids(rng, ids, n_ua)
        files[BAGS[1]] = _bag_ids(rng, ids, n_ub)
    return files


# ---------------------------------------------------------------------- faults of a full .npz


@st.composite
def full_npz_fault(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A broken fully paired ``.npz`` content and the regex its error must match."""
    arrays: dict[str, Any] = draw(valid_full(min_rows=1))
    arrays = {k: v.astype(np.float64) if k != "labels" else v for k, v in arrays.items()}
    key = draw(st.sampled_from(["a", "b"]))
    n, dim = arrays[key].shape
    kind = draw(
        st.sampled_from(
            ["nonfinite", "dtype", "pickled", "ndim", "zero_cols", "rows", "labels", "missing"]
        )
    )
    if kind == "nonfinite":
        row, col = draw(st.integers(0, n - 1)), draw(st.integers(0, dim - 1))
        arrays[key][row, col] = draw(st.sampled_from(BAD_VALUES))
        return arrays, rf"\['{key}'\]: contains NaN or Inf.*first at row {row}$"
    if kind == "dtype":
        arrays[key] = draw(
            st.sampled_from(
                [
                    arrays[key].astype(np.complex128),
                    arrays[key].astype(np.str_),
                    np.zeros((n, dim), "datetime64[s]"),
                    np.zeros((n, dim), "V8"),
                ]
            )
        )
        return arrays, rf"\['{key}'\]: expected real numbers, got dtype"
    if kind == "pickled":
        arrays[key] = np.array([[None] * dim] * n, dtype=object)
        return arrays, "pickled objects"
    if kind == "ndim":
        arrays[key] = draw(
            st.sampled_from([arrays[key].ravel(), arrays[key][..., None], np.float64(1.0)])
        )
        return arrays, rf"\['{key}'\]: expected a 2-D array"
    if kind == "zero_cols":
        arrays[key] = np.zeros((n, 0))
        return arrays, rf"\['{key}'\]: has 0 feature columns"
    if kind == "rows":
        extra = draw(st.integers(1, 3))
        arrays[key] = np.concatenate([arrays[key], np.ones((extra, dim))])
        return arrays, r"'a' has \d+ rows but 'b' has \d+"
    if kind == "labels":
        bad = draw(
            st.sampled_from(
                [np.arange(n + 1), np.zeros(n), np.zeros((n, 2), int), np.full(n, np.nan)]
            )
        )
        arrays["labels"] = bad
        return arrays, r"\['?labels'?\]|'labels' has"
    del arrays[key]
    return arrays, rf"missing array\(s\) \['{key}'\]"


# ---------------------------------------------------------------------- faults of a directory


def _with_rows(files: Files, keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if k in files and np.shape(files[k])[0] > 0]


def _fault_nonfinite(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(_with_rows(files, FEATURES)))
    values = np.array(files[key], dtype=np.float64)
    row, col = draw(st.integers(0, values.shape[0] - 1)), draw(st.integers(0, values.shape[1] - 1))
    values[row, col] = draw(st.sampled_from(BAD_VALUES))
    files[key] = values
    return rf"^{key}\.npy: contains NaN or Inf.*first at row {row}$"


def _fault_dtype(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(FEATURES))
    values = np.asarray(files[key])
    cast = draw(st.sampled_from([np.complex64, np.str_, "timedelta64[s]"]))
    files[key] = np.zeros(values.shape, cast) if cast == "timedelta64[s]" else values.astype(cast)
    return rf"^{key}\.npy: expected real numbers, got dtype"


def _fault_pickled(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from([k for k in (*FEATURES, *BAGS, LABELS) if k in files]))
    files[key] = np.array([None] * max(1, np.shape(files[key])[0]), dtype=object)
    return rf"^{key}\.npy: not a plain \.npy array \(pickled"


def _fault_ndim(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(FEATURES))
    values = np.asarray(files[key])
    files[key] = draw(st.sampled_from([values.ravel(), values[None], np.float32(2.0)]))
    return rf"^{key}\.npy: expected a 2-D array \(rows x features\), got shape"


def _fault_zero_cols(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(FEATURES))
    files[key] = np.zeros((np.shape(files[key])[0], 0), np.float32)
    return rf"^{key}\.npy: has 0 feature columns"


def _fault_one_side(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from([k for k in (*FEATURES, *BAGS) if k in files]))
    del files[key]
    return r"\.npy is present but \w+\.npy is missing"


def _fault_rows(draw: st.DrawFn, files: Files) -> str:
    """One extra row where row counts must agree (unpaired sides only agree with their bags)."""
    keys = ["paired_a", "paired_b", "eval_a", "eval_b", LABELS]
    if BAGS[0] in files:
        keys += ["unpaired_a", "unpaired_b", *BAGS]
    key = draw(st.sampled_from(keys))
    values = np.asarray(files[key])
    extra = values[:1] if len(values) else np.ones((1, *values.shape[1:]), values.dtype)
    files[key] = np.concatenate([values, extra])
    return r"\.npy has \d+ rows but \w+\.npy has \d+; they must match"


def _fault_empty(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(["unpaired_a", "unpaired_b", *[k for k in BAGS if k in files]]))
    files[key] = np.zeros((0, *np.shape(files[key])[1:]), np.asarray(files[key]).dtype)
    if key in BAGS:
        return rf"^{key}\.npy has 0 rows but unpaired_\w\.npy has \d+"
    return rf"^{key}\.npy has 0 rows; remove the unpaired files or add rows$"


def _fault_bag_ids(draw: st.DrawFn, files: Files) -> str:
    if BAGS[0] not in files:
        return _fault_empty(draw, files)
    key = draw(st.sampled_from(BAGS))
    ids = np.array(files[key])
    row = draw(st.integers(0, ids.size - 1))
    ids[row] = int(np.max(np.concatenate([files[BAGS[0]], files[BAGS[1]]]))) + 1
    files[key] = ids
    return r"^bag ids differ between sides: only in unpaired_a_bags\.npy \[.*\], only in"


def _fault_bag_type(draw: st.DrawFn, files: Files) -> str:
    if BAGS[0] not in files:
        return _fault_empty(draw, files)
    key = draw(st.sampled_from(BAGS))
    ids = np.asarray(files[key])
    kind = draw(st.sampled_from(["float", "bool", "2d", "uint64"]))
    if kind == "2d":
        files[key] = ids[:, None]
        return rf"^{key}\.npy: expected a 1-D array of bag ids"
    if kind == "uint64":
        files[key] = np.full(ids.shape, 2**64 - 1, np.uint64)
        return rf"^{key}\.npy: bag id \d+ does not fit in int64"
    files[key] = ids.astype(np.float64 if kind == "float" else bool)
    return rf"^{key}\.npy: bag ids must be integers"


def _fault_dims(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(FEATURES))
    values = np.asarray(files[key])
    files[key] = np.ones((values.shape[0], values.shape[1] + draw(st.integers(1, 3))))
    return r"^feature dimensions differ within one side: .*" + rf"{key}\.npy has \d+"


def _fault_labels(draw: st.DrawFn, files: Files) -> str:
    n = np.shape(files["eval_a"])[0]
    files[LABELS] = draw(st.sampled_from([np.zeros(n), np.zeros((n, 2), int), np.ones(n, bool)]))
    return r"^eval_labels\.npy: (labels must be integers or strings|expected a 1-D array)"


def _fault_garbage(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(sorted(files)))
    content = _npy_bytes(np.asarray(files[key]))
    files[key] = draw(
        st.one_of(
            st.binary(max_size=80).filter(lambda b: not b.startswith(b"PK")),
            st.integers(0, len(content) - 1).map(lambda cut: content[:cut]),
        )
    )
    return rf"^{key}\.npy: (not a (plain|readable) \.npy array|cannot read file)"


def _fault_directory(draw: st.DrawFn, files: Files) -> str:
    key = draw(st.sampled_from(sorted(files)))
    files[key] = DIRECTORY
    return rf"^{key}\.npy: is a directory"


def _fault_nothing(draw: st.DrawFn, files: Files) -> str:
    for key in ("paired_a", "paired_b", "unpaired_a", "unpaired_b", *BAGS):
        files.pop(key, None)
    if draw(st.booleans()):
        files.clear()
        files["notes"] = b"not a dataset file"
        return r"no recognised dataset files"
    return r"^nothing to train on: no paired rows and no unpaired rows$"


DIR_FAULTS: dict[str, Callable[[st.DrawFn, Files], str]] = {
    "nonfinite": _fault_nonfinite,
    "dtype": _fault_dtype,
    "pickled": _fault_pickled,
    "ndim": _fault_ndim,
    "zero_cols": _fault_zero_cols,
    "one_side": _fault_one_side,
    "rows": _fault_rows,
    "empty": _fault_empty,
    "bag_ids": _fault_bag_ids,
    "bag_type": _fault_bag_type,
    "dims": _fault_dims,
    "labels": _fault_labels,
    "garbage": _fault_garbage,
    "directory": _fault_directory,
    "nothing": _fault_nothing,
}


@st.composite
def dataset_fault(draw: st.DrawFn) -> Fault:
    """A dataset directory broken in one way, and the regex its error message must match."""
    kind = draw(st.sampled_from(sorted(DIR_FAULTS)))
    files = draw(valid_dataset(bags=True if kind.startswith("bag") else None))
    return files, DIR_FAULTS[kind](draw, files)


@pytest.fixture(scope="session")
def fuzz_kit() -> SimpleNamespace:
    """The strategies and writers above, for the fuzz test modules."""
    return SimpleNamespace(
        valid_full=valid_full,
        valid_dataset=valid_dataset,
        full_npz_fault=full_npz_fault,
        dataset_fault=dataset_fault,
        write_files=write_files,
        write_npz=write_npz,
        npy_bytes=_npy_bytes,
        features=FEATURES,
        bags=BAGS,
    )
