"""Dataset-directory loading: regime detection, summaries and every validation error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.regimes import (
    Regime,
    RegimeData,
    load_dataset_dir,
    load_full_npz,
    nearest_measured_bag_size,
)
from gentleclip.errors import InputError

RNG = np.random.default_rng(0)


def _features(rows: int, dim: int) -> np.ndarray:
    return RNG.normal(size=(rows, dim))


def _write(directory: Path, **arrays: np.ndarray) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key, values in arrays.items():
        np.save(directory / f"{key}.npy", values)
    return directory


def _bags_dir(directory: Path) -> Path:
    return _write(
        directory,
        paired_a=_features(5, 3),
        paired_b=_features(5, 2),
        unpaired_a=_features(6, 3),
        unpaired_b=_features(6, 2),
        unpaired_a_bags=np.array([0, 0, 1, 1, 2, 2]),
        unpaired_b_bags=np.array([2, 1, 0, 1, 0, 2]),
        eval_a=_features(4, 3),
        eval_b=_features(4, 2),
        eval_labels=np.array([0, 1, 0, 1]),
    )


def test_bags_regime_is_detected_and_arrays_are_float32(tmp_path: Path) -> None:
    data = load_dataset_dir(_bags_dir(tmp_path))
    assert data.regime is Regime.BAGS
    assert (data.n_pairs, data.n_unpaired_a, data.n_bags, data.n_eval) == (5, 6, 3, 4)
    assert (data.dim_a, data.dim_b) == (3, 2)
    assert data.paired_a.dtype == np.float32 and data.unpaired_b.dtype == np.float32
    assert data.bags_a is not None and data.bags_a.dtype == np.int64
    assert data.eval_labels is not None and data.eval_labels.tolist() == [0, 1, 0, 1]


def test_pairs_only_regime(tmp_path: Path) -> None:
    _write(tmp_path, paired_a=_features(4, 3), paired_b=_features(4, 2))
    data = load_dataset_dir(tmp_path)
    assert data.regime is Regime.PAIRS
    assert data.unpaired_a.shape == (0, 3) and data.unpaired_b.shape == (0, 2)
    assert data.bags_a is None and data.eval_a is None and data.eval_labels is None


def test_zero_pairs_disjoint_regime(tmp_path: Path) -> None:
    _write(tmp_path, unpaired_a=_features(7, 3), unpaired_b=_features(4, 2))
    data = load_dataset_dir(tmp_path)
    assert data.regime is Regime.UNPAIRED and data.regime == "unpaired"
    assert data.n_pairs == 0 and data.paired_a.shape == (0, 3) and data.paired_b.shape == (0, 2)


def test_integer_features_are_cast_to_float32(tmp_path: Path) -> None:
    _write(tmp_path, paired_a=np.arange(6).reshape(3, 2), paired_b=np.ones((3, 1), np.float64))
    data = load_dataset_dir(tmp_path)
    assert data.paired_a.dtype == np.float32
    np.testing.assert_array_equal(data.paired_a, np.arange(6, dtype=np.float64).reshape(3, 2))


def test_train_arrays_are_paired_then_unpaired(tmp_path: Path) -> None:
    data = load_dataset_dir(_bags_dir(tmp_path))
    expected_a = (
        np.load(tmp_path / "paired_a.npy").tolist() + np.load(tmp_path / "unpaired_a.npy").tolist()
    )
    np.testing.assert_allclose(data.train_arrays_a().astype(np.float64), expected_a, rtol=1e-6)
    assert data.train_arrays_b().shape == (11, 2)


def test_describe_is_honest_per_regime(tmp_path: Path) -> None:
    bags = load_dataset_dir(_bags_dir(tmp_path / "bags")).describe()
    assert "5 pairs" in bags and "in 3 bags" in bags and "regime: bags" in bags
    assert "0.766" in bags and "same objects" in bags and "--bag-means" in bags
    _write(
        tmp_path / "disjoint",
        paired_a=_features(2, 2),
        paired_b=_features(2, 2),
        unpaired_a=_features(3, 2),
        unpaired_b=_features(3, 2),
    )
    disjoint = load_dataset_dir(tmp_path / "disjoint").describe()
    assert "regime: unpaired" in disjoint and "HURT" in disjoint and "2 pairs" in disjoint
    assert "mfeat-disjoint" in disjoint and "loss.w_nbr" in disjoint
    assert "--method clip" in disjoint and "lost to CLIP on emoji" in disjoint
    _write(tmp_path / "pairs", paired_a=_features(3, 2), paired_b=_features(3, 2))
    pairs = load_dataset_dir(tmp_path / "pairs").describe()
    assert "regime: pairs" in pairs and "closed-form map" in pairs and "eval: none" in pairs
    assert len(pairs.splitlines()) >= 4


def test_describe_says_disjoint_sides_without_pairs_align_nothing(tmp_path: Path) -> None:
    """Disjoint sides with 0 pairs are valid data, but nothing links them: the regime line
    says so, names what would help, and does not offer the disjoint recipe or CLIP."""
    _write(tmp_path, unpaired_a=_features(3, 2), unpaired_b=_features(4, 2))
    text = load_dataset_dir(tmp_path).describe()
    assert "train: 0 pairs" in text and "regime: unpaired" in text
    assert "nothing ties an A row to a B row" in text and "at chance" in text
    assert "paired_a / paired_b" in text and "unpaired_a_bags / unpaired_b_bags" in text
    assert "HURT" not in text and "--method clip" not in text


@pytest.mark.parametrize(
    ("rows_per_bag", "size", "quote"),
    [(2, 8, "0.766 vs 0.389"), (20, 32, "0.515 vs 0.801"), (100, 128, "near chance")],
)
def test_describe_quotes_the_nearest_measured_bag_size(
    tmp_path: Path, rows_per_bag: int, size: int, quote: str
) -> None:
    bags = np.repeat(np.arange(3), rows_per_bag)
    rows = bags.size
    _write(
        tmp_path,
        unpaired_a=_features(rows, 3),
        unpaired_b=_features(rows, 2),
        unpaired_a_bags=bags,
        unpaired_b_bags=bags[::-1].copy(),
    )
    data = load_dataset_dir(tmp_path)
    assert data.median_bag_rows == rows_per_bag
    text = data.describe()
    assert f"median bag {rows_per_bag} rows, nearest measured: bags of {size};" in text
    assert quote in text and "--bag-nce" in text and "--bag-means" in text


def test_nearest_measured_bag_size_uses_a_log_scale() -> None:
    assert [nearest_measured_bag_size(n) for n in (1, 16, 17, 63, 64, 65, 10_000)] == [
        8,
        8,
        32,
        32,
        32,
        128,
        128,
    ]
    with pytest.raises(InputError, match="rows per bag must be positive"):
        nearest_measured_bag_size(0)


def test_eval_only_is_allowed_without_require_train(tmp_path: Path) -> None:
    _write(tmp_path, eval_a=_features(3, 4), eval_b=_features(3, 2))
    with pytest.raises(InputError, match="nothing to train on"):
        load_dataset_dir(tmp_path)
    data = load_dataset_dir(tmp_path, require_train=False, require_eval=True)
    assert data.n_eval == 3 and data.dim_a == 4 and "nothing to train on" in data.describe()


def _pickled_objects(path: Path) -> None:
    np.save(path, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)


BASE = {"paired_a": _features(4, 3), "paired_b": _features(4, 2)}
UNPAIRED = {"unpaired_a": _features(4, 3), "unpaired_b": _features(4, 2)}
NAN_ROW = _features(5, 2)
NAN_ROW[3, 1] = np.nan
INF_ROW = _features(5, 3)
INF_ROW[2, 0] = np.inf

ERROR_CASES = {
    "paired_b missing": ({"paired_a": _features(3, 2)}, r"paired_b\.npy is missing"),
    "paired rows differ": (
        {"paired_a": _features(3, 2), "paired_b": _features(4, 2)},
        r"paired_a\.npy has 3 rows but paired_b\.npy has 4",
    ),
    "unpaired_b missing": ({**BASE, "unpaired_a": _features(4, 3)}, r"unpaired_b\.npy is missing"),
    "unpaired_a missing": ({"unpaired_b": _features(4, 3)}, r"unpaired_a\.npy is missing"),
    "unpaired empty": (
        {**BASE, "unpaired_a": np.zeros((0, 3)), "unpaired_b": _features(2, 2)},
        r"unpaired_a\.npy has 0 rows",
    ),
    "not 2-D": ({**BASE, "paired_a": np.zeros(4)}, r"paired_a\.npy: expected a 2-D"),
    "no columns": ({**BASE, "paired_b": np.zeros((4, 0))}, r"paired_b\.npy: has 0 feature"),
    "string dtype": (
        {**BASE, "paired_a": np.array([["a", "b"]] * 4)},
        r"paired_a\.npy: expected real numbers",
    ),
    "complex dtype": (
        {**BASE, "paired_a": np.ones((4, 3), np.complex64)},
        r"paired_a\.npy: expected real numbers",
    ),
    "NaN row": (
        {**BASE, "unpaired_a": _features(5, 3), "unpaired_b": NAN_ROW},
        r"unpaired_b\.npy: contains NaN or Inf.*row 3",
    ),
    "Inf row": ({**BASE, "eval_a": INF_ROW, "eval_b": _features(5, 2)}, r"eval_a\.npy.*row 2"),
    "float32 overflow": (
        {**BASE, "paired_a": np.full((4, 3), 1e300)},
        r"paired_a\.npy: contains NaN or Inf.*row 0",
    ),
    "dim A paired vs unpaired": (
        {**BASE, "unpaired_a": _features(4, 5), "unpaired_b": _features(4, 2)},
        r"paired_a\.npy has 3, unpaired_a\.npy has 5",
    ),
    "dim A vs eval": (
        {**BASE, "eval_a": _features(2, 9), "eval_b": _features(2, 2)},
        r"eval_a\.npy has 9",
    ),
    "dim B": (
        {**BASE, "unpaired_a": _features(4, 3), "unpaired_b": _features(4, 7)},
        r"unpaired_b\.npy has 7",
    ),
    "bags float": (
        {**BASE, **UNPAIRED, "unpaired_a_bags": np.zeros(4), "unpaired_b_bags": np.zeros(4, int)},
        r"unpaired_a_bags\.npy: bag ids must be integers",
    ),
    "bags 2-D": (
        {**BASE, **UNPAIRED, "unpaired_a_bags": np.zeros((4, 1), int)},
        r"unpaired_a_bags\.npy: expected a 1-D",
    ),
    "bags length": (
        {
            **BASE,
            **UNPAIRED,
            "unpaired_a_bags": np.zeros(3, int),
            "unpaired_b_bags": np.zeros(4, int),
        },
        r"unpaired_a_bags\.npy has 3 rows but unpaired_a\.npy has 4",
    ),
    "bags one side": (
        {**BASE, **UNPAIRED, "unpaired_b_bags": np.zeros(4, int)},
        r"unpaired_b_bags\.npy is present but unpaired_a_bags\.npy is missing",
    ),
    "bags without unpaired": (
        {**BASE, "unpaired_a_bags": np.zeros(4, int), "unpaired_b_bags": np.zeros(4, int)},
        r"unpaired_a_bags\.npy is present but unpaired_a\.npy is missing",
    ),
    "bag ids differ": (
        {
            **BASE,
            **UNPAIRED,
            "unpaired_a_bags": np.array([0, 1, 7, 7]),
            "unpaired_b_bags": np.array([0, 1, 1, 9]),
        },
        r"bag ids differ.*unpaired_a_bags\.npy \[7\].*unpaired_b_bags\.npy \[9\]",
    ),
    "eval_b missing": ({**BASE, "eval_a": _features(2, 3)}, r"eval_b\.npy is missing"),
    "eval rows": (
        {**BASE, "eval_a": _features(2, 3), "eval_b": _features(3, 2)},
        r"eval_a\.npy has 2 rows but eval_b\.npy has 3",
    ),
    "labels float": (
        {**BASE, "eval_a": _features(2, 3), "eval_b": _features(2, 2), "eval_labels": np.zeros(2)},
        r"eval_labels\.npy: labels must be integers or strings",
    ),
    "labels without eval": (
        {**BASE, "eval_labels": np.zeros(3, int)},
        r"eval_labels\.npy is present but eval_a\.npy",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_validation_errors_name_the_file(tmp_path: Path, case: str) -> None:
    arrays, pattern = ERROR_CASES[case]
    _write(tmp_path, **arrays)
    with pytest.raises(InputError, match=pattern) as info:
        load_dataset_dir(tmp_path)
    assert "\n" not in str(info.value)


def test_labels_with_wrong_length_message(tmp_path: Path) -> None:
    arrays = {**BASE, "eval_a": _features(2, 3), "eval_b": _features(2, 2)}
    _write(tmp_path, **arrays, eval_labels=np.zeros(3, int))
    with pytest.raises(InputError, match=r"eval_labels\.npy has 3 rows but eval_a\.npy has 2"):
        load_dataset_dir(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="dataset directory not found"):
        load_dataset_dir(tmp_path / "nope")


def test_no_recognised_files(tmp_path: Path) -> None:
    _write(tmp_path, features=_features(3, 3))
    with pytest.raises(InputError, match="no recognised dataset files"):
        load_dataset_dir(tmp_path)


def test_pickled_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, paired_b=_features(2, 2))
    _pickled_objects(tmp_path / "paired_a.npy")
    with pytest.raises(InputError, match=r"paired_a\.npy: not a plain \.npy array"):
        load_dataset_dir(tmp_path)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, paired_a=_features(2, 2))
    (tmp_path / "paired_b.npy").write_text("not numpy")
    with pytest.raises(InputError, match=r"paired_b\.npy"):
        load_dataset_dir(tmp_path)


def test_require_eval(tmp_path: Path) -> None:
    _write(tmp_path, **BASE)
    with pytest.raises(InputError, match=r"eval_a\.npy and eval_b\.npy are required"):
        load_dataset_dir(tmp_path, require_eval=True)


def test_from_arrays_rejects_unknown_keys() -> None:
    with pytest.raises(InputError, match="unknown dataset arrays"):
        RegimeData.from_arrays({**BASE, "paired_c": _features(4, 2)})


def _save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_load_full_npz_roundtrip(tmp_path: Path) -> None:
    a, b = _features(6, 3), _features(6, 2)
    path = _save_npz(tmp_path / "full.npz", a=a, b=b, labels=np.arange(6))
    loaded_a, loaded_b, labels = load_full_npz(path)
    assert loaded_a.dtype == np.float32 and loaded_b.shape == (6, 2)
    np.testing.assert_allclose(loaded_a.astype(np.float64), a, rtol=1e-6)
    assert labels is not None and labels.tolist() == list(range(6))
    assert load_full_npz(_save_npz(tmp_path / "nolabels.npz", a=a, b=b))[2] is None


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"a": np.ones((3, 2))}, r"missing array\(s\) \['b'\]"),
        ({"a": np.ones((3, 2)), "b": np.ones((4, 2))}, "'a' has 3 rows but 'b' has 4"),
        ({"a": np.ones(3), "b": np.ones((3, 2))}, r"\['a'\]: expected a 2-D"),
        ({"a": np.ones((3, 2)), "b": np.array([[0.0], [np.nan], [1.0]])}, r"\['b'\].*row 1"),
        ({"a": np.ones((3, 2)), "b": np.ones((3, 2)), "labels": np.ones(2, int)}, "'labels'"),
    ],
)
def test_load_full_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        load_full_npz(_save_npz(tmp_path / "full.npz", **arrays))


def test_load_full_npz_missing_and_wrong_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_full_npz(tmp_path / "nope.npz")
    np.save(tmp_path / "single.npy", np.ones((2, 2)))
    with pytest.raises(InputError, match=r"single \.npy array"):
        load_full_npz(tmp_path / "single.npy")


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("unpaired_a_bag", "unpaired_a_bags"), ("eval_label", "eval_labels"), ("paired_c", None)],
)
def test_misspelled_dataset_file_is_refused(tmp_path: Path, wrong: str, right: str | None) -> None:
    """A near-miss name would otherwise be skipped: another regime, or a metric dropped."""
    _bags_dir(tmp_path)
    np.save(tmp_path / f"{wrong}.npy", np.zeros(6, dtype=np.int64))
    with pytest.raises(InputError, match=rf"{wrong}\.npy: not a dataset file name; did you mean"):
        load_dataset_dir(tmp_path)
    if right is not None:  # the suggestion names the file meant
        with pytest.raises(InputError, match=rf"did you mean {right}\.npy"):
            load_dataset_dir(tmp_path)


def test_unrelated_npy_files_are_left_alone(tmp_path: Path) -> None:
    _bags_dir(tmp_path)
    np.save(tmp_path / "ids.npy", np.arange(6))
    assert load_dataset_dir(tmp_path).regime is Regime.BAGS
