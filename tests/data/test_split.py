"""split_full and write_dataset_dir: no leaks, determinism, validation, atomic writes.

The toy data encode each item's id in column 0 of both sides (B shifted by 10_000), so the
tests can recover which object every row is without trusting the split's bookkeeping.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.regimes import load_dataset_dir
from gentleclip.data.split import split_full, write_dataset_dir
from gentleclip.errors import InputError

B_SHIFT = 10_000.0


def _toy(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids = np.arange(n, dtype=np.float64)
    a = np.stack([ids, np.sin(ids), np.ones(n)], axis=1)
    b = np.stack([ids + B_SHIFT, np.cos(ids)], axis=1)
    return a, b, np.arange(n) % 5


def _ids_a(rows: np.ndarray) -> np.ndarray:
    return rows[:, 0].astype(np.int64)


def _ids_b(rows: np.ndarray) -> np.ndarray:
    return (rows[:, 0].astype(np.float64) - B_SHIFT).astype(np.int64)


def test_bags_split_keys_counts_and_no_labels_in_training() -> None:
    a, b, labels = _toy(1000)
    out = split_full(a, b, labels, pairs=20, regime="bags", bag_size=8, test_size=100, seed=1)
    assert set(out) == {
        "paired_a",
        "paired_b",
        "unpaired_a",
        "unpaired_b",
        "unpaired_a_bags",
        "unpaired_b_bags",
        "eval_a",
        "eval_b",
        "eval_labels",
    }
    assert [out[k].shape[0] for k in ("paired_a", "unpaired_a", "eval_a")] == [20, 880, 100]
    assert out["paired_a"].dtype == np.float32 and out["unpaired_a_bags"].dtype == np.int64
    assert [k for k in out if "label" in k] == ["eval_labels"]
    np.testing.assert_array_equal(out["eval_labels"], labels[_ids_a(out["eval_a"])])


def test_bags_split_has_no_labels_key_without_labels() -> None:
    a, b, _ = _toy(300)
    out = split_full(a, b, pairs=5, regime="bags", test_size=50)
    assert "eval_labels" not in out


def test_partitions_are_disjoint_and_pairs_are_matched() -> None:
    a, b, _ = _toy(1000)
    out = split_full(a, b, pairs=30, regime="bags", bag_size=8, test_size=100, seed=3)
    eval_ids, pair_ids = _ids_a(out["eval_a"]), _ids_a(out["paired_a"])
    np.testing.assert_array_equal(eval_ids, _ids_b(out["eval_b"]))
    np.testing.assert_array_equal(pair_ids, _ids_b(out["paired_b"]))
    unpaired_a, unpaired_b = _ids_a(out["unpaired_a"]), _ids_b(out["unpaired_b"])
    assert sorted(unpaired_a.tolist()) == sorted(unpaired_b.tolist())
    everything = np.concatenate([eval_ids, pair_ids, unpaired_a])
    assert sorted(everything.tolist()) == list(range(1000))


def test_bags_hold_the_same_objects_on_both_sides() -> None:
    a, b, _ = _toy(1000)
    out = split_full(a, b, pairs=20, regime="bags", bag_size=8, test_size=100, seed=4)
    bags_a, bags_b = out["unpaired_a_bags"], out["unpaired_b_bags"]
    n_bags = -(-880 // 8)
    assert sorted(np.unique(bags_a).tolist()) == list(range(n_bags))
    ids_a, ids_b = _ids_a(out["unpaired_a"]), _ids_b(out["unpaired_b"])
    sizes = []
    for bag in range(n_bags):
        members = set(ids_a[bags_a == bag].tolist())
        assert members == set(ids_b[bags_b == bag].tolist())
        sizes.append(len(members))
    assert sorted(sizes)[1:] == [8] * (n_bags - 1) and 1 <= min(sizes) <= 8


def test_bag_ids_are_renumbered_randomly() -> None:
    a, b, _ = _toy(203)
    smallest_bag_ids = set()
    for seed in range(8):
        out = split_full(a, b, pairs=0, regime="bags", bag_size=10, test_size=10, seed=seed)
        ids, counts = np.unique(out["unpaired_a_bags"], return_counts=True)
        assert ids.tolist() == list(range(20))
        smallest_bag_ids.add(int(ids[np.argmin(counts)]))
    assert len(smallest_bag_ids) > 1  # the short last bag does not always get the last id


def test_bags_row_order_does_not_reveal_pairing() -> None:
    a, b, _ = _toy(3000)
    out = split_full(a, b, pairs=0, regime="bags", bag_size=8, test_size=100, seed=5)
    ids_a, ids_b = _ids_a(out["unpaired_a"]), _ids_b(out["unpaired_b"])
    assert int(np.sum(ids_a == ids_b)) <= 6  # a random permutation has ~1 fixed point
    position_a = np.argsort(ids_a)
    position_b = np.argsort(ids_b)
    assert abs(np.corrcoef(position_a.astype(np.float64), position_b)[0, 1]) < 0.1
    # rows are not grouped by bag either: consecutive rows rarely share a bag
    same_bag_neighbours = np.mean(out["unpaired_a_bags"][1:] == out["unpaired_a_bags"][:-1])
    assert same_bag_neighbours < 0.05
    # within one bag the A order and B order are independent too
    bags_a, bags_b = out["unpaired_a_bags"], out["unpaired_b_bags"]
    in_bag_matches = sum(
        int(np.sum(ids_a[bags_a == bag] == ids_b[bags_b == bag])) for bag in range(300)
    )
    assert in_bag_matches < 450  # chance is ~1 match per bag (300); a shared order gives 2400


def test_unpaired_split_gives_disjoint_halves() -> None:
    a, b, labels = _toy(901)
    out = split_full(a, b, labels, pairs=10, regime="unpaired", test_size=91, seed=2)
    assert "unpaired_a_bags" not in out and "unpaired_b_bags" not in out
    ids_a, ids_b = _ids_a(out["unpaired_a"]), _ids_b(out["unpaired_b"])
    assert (ids_a.size, ids_b.size) == (400, 400)
    assert not set(ids_a.tolist()) & set(ids_b.tolist())
    used = np.concatenate([ids_a, ids_b, _ids_a(out["paired_a"]), _ids_a(out["eval_a"])])
    assert sorted(used.tolist()) == list(range(901))
    assert not np.all(np.diff(ids_a) > 0) and not np.all(np.diff(ids_b) > 0)


def test_pairs_split_keeps_the_other_regimes_pairs_and_nothing_else() -> None:
    a, b, labels = _toy(300)
    out = split_full(a, b, labels, pairs=20, regime="pairs", test_size=50, seed=4)
    assert sorted(out) == ["eval_a", "eval_b", "eval_labels", "paired_a", "paired_b"]
    bags = split_full(a, b, labels, pairs=20, regime="bags", test_size=50, seed=4)
    for key in out:  # the same pairs and test pairs as the bags split of the same seed
        np.testing.assert_array_equal(out[key], bags[key])
    np.testing.assert_array_equal(_ids_a(out["paired_a"]), _ids_b(out["paired_b"]))
    # everything fits: all 300 rows can be pairs or test pairs, none is left over
    split_full(a, b, pairs=250, regime="pairs", test_size=50)


def test_split_is_deterministic_per_seed() -> None:
    a, b, labels = _toy(500)
    first = split_full(a, b, labels, pairs=10, regime="bags", test_size=50, seed=7)
    again = split_full(a, b, labels, pairs=10, regime="bags", test_size=50, seed=7)
    other = split_full(a, b, labels, pairs=10, regime="bags", test_size=50, seed=8)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["eval_a"], other["eval_a"])


def test_test_pairs_are_held_out_before_training_pairs() -> None:
    a, b, _ = _toy(500)
    few = split_full(a, b, pairs=5, regime="unpaired", test_size=50, seed=9)
    many = split_full(a, b, pairs=200, regime="bags", test_size=50, seed=9)
    np.testing.assert_array_equal(few["eval_a"], many["eval_a"])


def test_zero_pairs_is_valid() -> None:
    a, b, _ = _toy(100)
    out = split_full(a, b, pairs=0, regime="bags", bag_size=3, test_size=10)
    assert out["paired_a"].shape == (0, 3) and out["paired_b"].shape == (0, 2)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"regime": "paired"}, "unknown split regime 'paired'"),
        ({"regime": "pairs", "pairs": 0}, r"regime pairs .* needs pairs >= 1"),
        ({"pairs": -1}, "pairs must be >= 0"),
        ({"pairs": 2.5}, "pairs must be an integer"),
        ({"bag_size": 0}, "bag_size must be >= 1"),
        ({"test_size": 0}, "test_size must be >= 1"),
        ({"pairs": 60, "test_size": 50}, r"pairs \(60\) \+ test_size \(50\) exceed the 100 rows"),
        ({"pairs": 50, "test_size": 50}, "only 0 rows left for the bags part"),
        ({"pairs": 49, "test_size": 50, "regime": "unpaired"}, "need at least 2"),
    ],
)
def test_split_validation(kwargs: dict[str, object], pattern: str) -> None:
    a, b, _ = _toy(100)
    settings: dict[str, object] = {"pairs": 10, "regime": "bags", "test_size": 20, **kwargs}
    with pytest.raises(InputError, match=pattern):
        split_full(a, b, **settings)  # type: ignore[arg-type]


def test_split_input_validation() -> None:
    a, b, _ = _toy(100)
    with pytest.raises(InputError, match="a has 100 rows but b has 99"):
        split_full(a, b[:99], pairs=1, regime="bags", test_size=10)
    with pytest.raises(InputError, match="labels must be 1-D with 100 entries"):
        split_full(a, b, np.zeros(99), pairs=1, regime="bags", test_size=10)
    bad = a.copy()
    bad[4, 1] = np.nan
    with pytest.raises(InputError, match=r"a: contains NaN or Inf.*row 4"):
        split_full(bad, b, pairs=1, regime="bags", test_size=10)


SETTINGS = {"n": 300, "pairs": 10, "regime": "bags", "bag_size": 8, "test_size": 30, "seed": 0}


def _split_300() -> dict[str, np.ndarray]:
    a, b, labels = _toy(300)
    return split_full(a, b, labels, pairs=10, regime="bags", test_size=30)


def test_write_then_load_roundtrip(tmp_path: Path) -> None:
    arrays = _split_300()
    out = tmp_path / "made" / "ds"
    write_dataset_dir(arrays, out, settings=SETTINGS)
    data = load_dataset_dir(out, require_eval=True)
    np.testing.assert_array_equal(data.unpaired_b, arrays["unpaired_b"])
    np.testing.assert_array_equal(data.bags_a, arrays["unpaired_a_bags"])
    np.testing.assert_array_equal(data.eval_labels, arrays["eval_labels"])
    document = json.loads((out / "split.json").read_text())
    assert {k: document[k] for k in SETTINGS} == SETTINGS
    assert document["counts"]["unpaired_a"] == 260 and document["counts"]["eval_a"] == 30
    assert all(not isinstance(value, list) for value in document.values())
    assert sorted(p.name for p in tmp_path.joinpath("made").iterdir()) == ["ds"]


def test_write_refuses_non_empty_directory_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    with pytest.raises(InputError, match="directory is not empty"):
        write_dataset_dir(_split_300(), out)
    assert (out / "old.txt").read_text() == "keep me"
    write_dataset_dir(_split_300(), out, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "paired_a.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_write_into_existing_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    write_dataset_dir(_split_300(), tmp_path / "ds")
    assert (tmp_path / "ds" / "split.json").exists()


def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _split_300()
    real_save = np.save
    calls = {"n": 0}

    def failing_save(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_dataset_dir(arrays, tmp_path / "new" / "deeper" / "ds")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    write_dataset_dir(_split_300(), out)
    before = np.load(out / "eval_a.npy")

    def failing_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", failing_save)
    a, b, _ = _toy(300)
    other = split_full(a, b, pairs=10, regime="bags", test_size=30, seed=99)
    with pytest.raises(OSError, match="disk full"):
        write_dataset_dir(other, out, overwrite=True)
    np.testing.assert_array_equal(np.load(out / "eval_a.npy"), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_failed_swap_restores_the_old_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    write_dataset_dir(_split_300(), out)
    before = np.load(out / "eval_a.npy")
    real_rename = os.rename

    def failing_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name.startswith(".ds.tmp-"):
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    a, b, _ = _toy(300)
    other = split_full(a, b, pairs=10, regime="bags", test_size=30, seed=99)
    with pytest.raises(OSError, match="rename failed"):
        write_dataset_dir(other, out, overwrite=True)
    np.testing.assert_array_equal(np.load(out / "eval_a.npy"), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_write_validates_before_touching_disk(tmp_path: Path) -> None:
    arrays = _split_300()
    arrays["paired_b"] = arrays["paired_b"][:3]
    with pytest.raises(InputError, match=r"paired_a\.npy has 10 rows but paired_b\.npy has 3"):
        write_dataset_dir(arrays, tmp_path / "ds")
    with pytest.raises(InputError, match="unknown dataset arrays"):
        write_dataset_dir({**_split_300(), "train_labels": np.zeros(10)}, tmp_path / "ds")
    with pytest.raises(InputError, match="not JSON-serialisable"):
        write_dataset_dir(_split_300(), tmp_path / "ds", settings={"seed": object()})
    assert list(tmp_path.iterdir()) == []


def test_natural_groups_become_bags_and_test_rows_are_reproducible() -> None:
    from gentleclip.data.split import test_rows

    n = 60
    ids = np.arange(n, dtype=np.float32)[:, None]
    groups = np.repeat(np.arange(6), 10)  # 6 natural groups of 10
    out = split_full(
        ids, ids + 1000, np.arange(n), pairs=5, regime="bags", test_size=12, seed=4, groups=groups
    )
    np.testing.assert_array_equal(
        out["eval_a"][:, 0].astype(int), test_rows(n, test_size=12, seed=4)
    )
    a_ids = out["unpaired_a"][:, 0].astype(int)
    b_ids = out["unpaired_b"][:, 0].astype(int) - 1000
    for bag in np.unique(out["unpaired_a_bags"]):
        members_a = a_ids[out["unpaired_a_bags"] == bag]
        members_b = b_ids[out["unpaired_b_bags"] == bag]
        assert sorted(members_a) == sorted(members_b)  # the same objects on both sides
        assert len(set(groups[members_a])) == 1  # one natural group per bag
    assert len(np.unique(out["unpaired_a_bags"])) == 6
    with pytest.raises(InputError, match="groups"):
        split_full(ids, ids, pairs=1, regime="bags", test_size=5, groups=groups[:10])
