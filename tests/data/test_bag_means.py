"""Bag means as pseudo-pairs: the means against a loop reference, their exactness under a
linear map, and the arrays a bag-mean baseline fits on."""

from __future__ import annotations

import numpy as np
import pytest

from gentleclip.baselines import get_baseline
from gentleclip.data.bag_means import bag_mean_rows, with_bag_means
from gentleclip.data.regimes import ALL_KEYS, RegimeData
from gentleclip.errors import InputError


def _bagged(n_bags: int, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Unpaired rows in bags of ``size`` (ids not contiguous), each side in its own order."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(1000, size=n_bags, replace=False)
    bags = np.repeat(ids, size)
    order_a, order_b = rng.permutation(len(bags)), rng.permutation(len(bags))
    return {
        "paired_a": rng.normal(size=(3, 4)).astype(np.float32),
        "paired_b": rng.normal(size=(3, 2)).astype(np.float32),
        "unpaired_a": rng.normal(size=(len(bags), 4)).astype(np.float32),
        "unpaired_b": rng.normal(size=(len(bags), 2)).astype(np.float32),
        "unpaired_a_bags": bags[order_a],
        "unpaired_b_bags": bags[order_b],
    }


def _means(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    keys = ("unpaired_a", "unpaired_a_bags", "unpaired_b", "unpaired_b_bags")
    return bag_mean_rows(*(arrays[k] for k in keys))


def _loop_means(rows: np.ndarray, bags: np.ndarray) -> np.ndarray:
    out = []
    for bag in sorted(set(bags.tolist())):
        members = [rows[i].astype(np.float64) for i in range(len(rows)) if bags[i] == bag]
        out.append(sum(members) / len(members))
    return np.array(out, dtype=np.float32)


def test_bag_means_equal_a_loop_over_the_bags_in_id_order() -> None:
    arrays = _bagged(n_bags=7, size=3)
    mean_a, mean_b = _means(arrays)
    np.testing.assert_allclose(
        mean_a, _loop_means(arrays["unpaired_a"], arrays["unpaired_a_bags"]), rtol=1e-6
    )
    np.testing.assert_allclose(
        mean_b, _loop_means(arrays["unpaired_b"], arrays["unpaired_b_bags"]), rtol=1e-6
    )
    assert mean_a.dtype == mean_b.dtype == np.float32 and mean_a.shape == (7, 4)


def test_unequal_bag_sizes_and_a_bag_of_one_row_is_a_pair() -> None:
    a = np.array([[1.0], [3.0], [5.0]], np.float32)
    b = np.array([[10.0], [20.0], [40.0]], np.float32)
    mean_a, mean_b = bag_mean_rows(a, np.array([0, 0, 1]), b, np.array([1, 0, 0]))
    assert mean_a.ravel().tolist() == [2.0, 5.0] and mean_b.ravel().tolist() == [30.0, 10.0]


def test_with_bag_means_appends_one_pair_per_bag_and_keeps_the_rest() -> None:
    arrays = _bagged(n_bags=5, size=4)
    arrays["eval_a"], arrays["eval_b"] = arrays["paired_a"][:2], arrays["paired_b"][:2]
    out = with_bag_means(arrays)
    mean_a, mean_b = _means(arrays)
    np.testing.assert_array_equal(out["paired_a"], np.concatenate([arrays["paired_a"], mean_a]))
    np.testing.assert_array_equal(out["paired_b"], np.concatenate([arrays["paired_b"], mean_b]))
    for key in set(ALL_KEYS) - {"paired_a", "paired_b", "eval_labels"}:
        assert out[key] is arrays[key]
    assert RegimeData.from_arrays(out).n_pairs == 3 + 5


def test_with_bag_means_from_zero_pairs() -> None:
    arrays = _bagged(n_bags=6, size=2)
    del arrays["paired_a"], arrays["paired_b"]
    assert with_bag_means(arrays)["paired_a"].shape == (6, 4)


def test_no_bags_or_mismatched_bags_are_refused_by_name() -> None:
    arrays = _bagged(n_bags=4, size=2)
    disjoint = {k: v for k, v in arrays.items() if not k.endswith("_bags")}
    with pytest.raises(InputError, match="bag means need bags"):
        with_bag_means(disjoint)
    other = {**arrays, "unpaired_b_bags": arrays["unpaired_b_bags"] + 1}
    with pytest.raises(InputError, match="bag ids differ"):
        with_bag_means(other)
    short = {**arrays, "unpaired_a_bags": arrays["unpaired_a_bags"][:-1]}
    with pytest.raises(InputError, match="one bag id per unpaired A row"):
        with_bag_means(short)


def test_bag_means_are_exact_pairs_under_a_linear_map() -> None:
    """If b = a W + c for every object, the bag means obey it too: ridge fitted on bag means
    alone (no true pair) retrieves held-out partners; fitted on the unpaired rows taken as
    pairs in their arbitrary order, it does not."""
    rng = np.random.default_rng(1)
    w, c = rng.normal(size=(6, 5)), rng.normal(size=5)
    a = rng.normal(size=(800, 6))
    b = a @ w + c
    bags = np.repeat(np.arange(100), 4)
    order_b = rng.permutation(400)
    train = {
        "unpaired_a": a[:400].astype(np.float32),
        "unpaired_b": b[:400][order_b].astype(np.float32),
        "unpaired_a_bags": bags,
        "unpaired_b_bags": bags[order_b],
    }
    mean_a, mean_b = _means(train)
    np.testing.assert_allclose(mean_a.astype(np.float64) @ w + c, mean_b, atol=1e-4)
    ridge = get_baseline("ridge")
    fitted = ridge.fit(RegimeData.from_arrays(with_bag_means(train)), {"alpha": 1e-6})
    shuffled = {"paired_a": train["unpaired_a"], "paired_b": train["unpaired_b"]}
    blind = ridge.fit(RegimeData.from_arrays(shuffled), {"alpha": 1e-6})
    test_a, test_b = a[400:].astype(np.float32), b[400:].astype(np.float32)

    def recall_at_1(model) -> float:
        sim = model.encode("a", test_a) @ model.encode("b", test_b).T
        return float((sim.argmax(dim=1).numpy() == np.arange(400)).mean())

    assert recall_at_1(fitted) > 0.95
    assert recall_at_1(blind) < 0.2
