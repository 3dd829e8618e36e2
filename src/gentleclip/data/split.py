"""Cut a fully paired dataset into a few pairs plus bags or disjoint unpaired rows.

This is how benchmarks simulate the low-pair regimes from a dataset where every row is a
pair: test pairs are held out first, then ``pairs`` training pairs are taken, and the rest
becomes unpaired data that reveals nothing about which A row matches which B row:

- ``bags``: the rest is cut into bags of ``bag_size`` objects; both sides keep the bag id
  of every row, but A rows and B rows are shuffled independently, so only bag membership
  (not item identity) is known.
- ``unpaired``: the rest is split into two disjoint halves; one gives only A rows, the
  other only B rows, so no A row has its partner among the B rows at all.
- ``pairs``: the rest is dropped: the training data is the pairs alone (the same pairs and
  test pairs as the other regimes at the same seed), the case a user with no unpaired data is in.

Labels never reach training files; they only travel with the held-out evaluation pairs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gentleclip.data.io import as_feature_matrix
from gentleclip.data.regimes import BAG_KEYS, FEATURE_KEYS, RegimeData
from gentleclip.errors import InputError

# each split regime -> the rows it needs left over after the test rows and the pairs (a bag
# needs one row, disjoint sides one a side, the pairs alone none)
ROWS_LEFT_NEEDED = {"bags": 1, "unpaired": 2, "pairs": 0}
SPLIT_REGIMES = tuple(ROWS_LEFT_NEEDED)
SETTINGS_FILE = "split.json"


def split_full(
    a: np.ndarray,
    b: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    pairs: int,
    regime: str,
    bag_size: int = 8,
    test_size: int = 400,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Split fully paired ``(a, b)`` into the dataset-directory arrays of one regime.

    Args:
        a, b: paired feature matrices (row ``i`` of each is a pair).
        labels: optional per-row labels; they only go to ``eval_labels``.
        pairs: number of training pairs to keep (0 is valid).
        regime: ``"bags"``, ``"unpaired"`` or ``"pairs"`` (no unpaired rows; ``pairs`` >= 1).
        bag_size: objects per bag (the last bag may be smaller).
        test_size: number of held-out evaluation pairs, taken first.
        seed: seed of the one random generator behind every shuffle.
        groups: optional natural bag id per row (e.g. the article or organism an item comes
            from); with regime ``"bags"`` the unpaired rows are bagged by it instead of being
            cut into fixed bags of ``bag_size``.

    Returns:
        Arrays keyed like the dataset files: ``paired_a``, ``paired_b``, ``unpaired_a``,
        ``unpaired_b``, (``unpaired_a_bags``, ``unpaired_b_bags``), ``eval_a``, ``eval_b``,
        (``eval_labels``).
    """
    a = as_feature_matrix(a, "a")
    b = as_feature_matrix(b, "b")
    labels = _check_inputs(a, b, labels)
    _check_sizes(a.shape[0], pairs=pairs, regime=regime, bag_size=bag_size, test_size=test_size)
    rng = np.random.default_rng(seed)
    order = rng.permutation(a.shape[0])
    test, train, rest = np.split(order, [test_size, test_size + pairs])
    out = {"paired_a": a[train], "paired_b": b[train]}
    if regime == "bags" and groups is not None:
        out.update(_group_rows(a, b, rest, _check_groups(groups, a.shape[0]), rng))
    elif regime == "bags":
        out.update(_bag_rows(a, b, rest, bag_size, rng))
    elif regime == "unpaired":
        out.update(_disjoint_rows(a, b, rest, rng))
    out["eval_a"], out["eval_b"] = a[test], b[test]
    if labels is not None:
        out["eval_labels"] = labels[test]
    return out


def test_rows(n: int, *, test_size: int, seed: int) -> np.ndarray:
    """Row indices :func:`split_full` holds out as test pairs (its first draw), in eval order."""
    return np.random.default_rng(seed).permutation(n)[:test_size]


def _check_groups(groups: np.ndarray, n: int) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise InputError(f"groups must have one entry per row ({n}), got shape {groups.shape}")
    return np.unique(groups, return_inverse=True)[1].astype(np.int64)


def _group_rows(
    a: np.ndarray, b: np.ndarray, rest: np.ndarray, groups: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Bags = natural groups among the remaining rows, ids renumbered at random."""
    present = np.unique(groups[rest])
    renumber = np.zeros(groups.max() + 1, dtype=np.int64)
    renumber[present] = rng.permutation(present.size)
    ids = renumber[groups[rest]]
    perm_a, perm_b = rng.permutation(rest.size), rng.permutation(rest.size)
    return {
        "unpaired_a": a[rest[perm_a]],
        "unpaired_b": b[rest[perm_b]],
        "unpaired_a_bags": ids[perm_a],
        "unpaired_b_bags": ids[perm_b],
    }


def _check_inputs(a: np.ndarray, b: np.ndarray, labels: np.ndarray | None) -> np.ndarray | None:
    """Equal row counts for a, b and labels; labels 1-D."""
    if a.shape[0] != b.shape[0]:
        raise InputError(f"a has {a.shape[0]} rows but b has {b.shape[0]}; they must be paired")
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != a.shape[0]:
        raise InputError(f"labels must be 1-D with {a.shape[0]} entries, got shape {labels.shape}")
    return labels


def _check_count(value: int, name: str, minimum: int) -> None:
    """An integer setting at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")


def _check_sizes(n: int, *, pairs: int, regime: str, bag_size: int, test_size: int) -> None:
    """Settings are valid and leave enough rows for the unpaired part."""
    if regime not in SPLIT_REGIMES:
        raise InputError(f"unknown split regime {regime!r}; choose one of {list(SPLIT_REGIMES)}")
    _check_count(pairs, "pairs", 0)
    _check_count(bag_size, "bag_size", 1)
    _check_count(test_size, "test_size", 1)
    if pairs + test_size > n:
        raise InputError(f"pairs ({pairs}) + test_size ({test_size}) exceed the {n} rows")
    if regime == "pairs" and pairs < 1:
        raise InputError("regime pairs keeps only the training pairs: needs pairs >= 1")
    needed = ROWS_LEFT_NEEDED[regime]
    left = n - pairs - test_size
    if left < needed:
        raise InputError(
            f"only {left} rows left for the {regime} part after {pairs} pairs and "
            f"{test_size} test rows; need at least {needed}"
        )


def _bag_rows(
    a: np.ndarray, b: np.ndarray, rest: np.ndarray, bag_size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Cut ``rest`` (already in random order) into bags; shuffle each side's rows apart."""
    n_bags = -(-rest.size // bag_size)
    ids = rng.permutation(n_bags)[np.arange(rest.size) // bag_size]
    perm_a, perm_b = rng.permutation(rest.size), rng.permutation(rest.size)
    return {
        "unpaired_a": a[rest[perm_a]],
        "unpaired_b": b[rest[perm_b]],
        "unpaired_a_bags": ids[perm_a].astype(np.int64),
        "unpaired_b_bags": ids[perm_b].astype(np.int64),
    }


def _disjoint_rows(
    a: np.ndarray, b: np.ndarray, rest: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Give one half of ``rest`` only A rows and the other half only B rows, each shuffled."""
    half = rest.size // 2
    rows_a, rows_b = rng.permutation(rest[:half]), rng.permutation(rest[half:])
    return {"unpaired_a": a[rows_a], "unpaired_b": b[rows_b]}


def write_dataset_dir(
    arrays: Mapping[str, np.ndarray],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    settings: Mapping[str, object] | None = None,
) -> None:
    """Write dataset arrays as ``<key>.npy`` files plus ``split.json``, all or nothing.

    The files are written into a temporary sibling directory which is then renamed to
    ``out_dir``; on any failure nothing is left behind (directories this call created
    included). ``split.json`` holds ``settings`` (e.g. n, pairs, regime, bag_size,
    test_size, seed: pass what produced the arrays; never labels or indices) plus the row
    count of every array under ``counts``.

    Raises:
        InputError: inconsistent arrays, non-JSON settings, or a non-empty ``out_dir``
            without ``overwrite=True``.
    """
    RegimeData.from_arrays(arrays, require_train=True)
    out = Path(out_dir)
    _check_target(out, overwrite)
    document = _settings_json(arrays, settings)
    created = _make_parent(out.parent)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for key, values in arrays.items():
            np.save(tmp / f"{key}.npy", _file_dtype(key, values), allow_pickle=False)
        (tmp / SETTINGS_FILE).write_text(document, encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _check_target(out: Path, overwrite: bool) -> None:
    """The output is absent, an empty directory, or a directory we may replace."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise InputError(f"{out}: cannot create it, {blocked} is a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(
            f"{out}: directory is not empty; choose a new output directory (Python API: "
            "overwrite=True replaces it)"
        )


def _settings_json(arrays: Mapping[str, np.ndarray], settings: Mapping[str, object] | None) -> str:
    """The ``split.json`` text: settings plus per-array row counts."""
    document = dict(settings or {})
    document["counts"] = {key: int(np.shape(values)[0]) for key, values in arrays.items()}
    try:
        return json.dumps(document, indent=2, sort_keys=True) + "\n"
    except TypeError as exc:
        raise InputError(f"split settings are not JSON-serialisable: {exc}") from exc


def _file_dtype(key: str, values: np.ndarray) -> np.ndarray:
    """Features as float32, bag ids as int64, labels as given."""
    if key in FEATURE_KEYS:
        return np.asarray(values, dtype=np.float32)
    if key in BAG_KEYS:
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values)


def _make_parent(parent: Path) -> Path | None:
    """Create ``parent`` if missing; return the topmost directory created (or None)."""
    missing = None
    for candidate in [parent, *parent.parents]:
        if candidate.exists():
            break
        missing = candidate
    parent.mkdir(parents=True, exist_ok=True)
    return missing


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``, replacing an existing ``out`` only after success."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if not any(out.iterdir()):
        out.rmdir()
        os.rename(tmp, out)
        return
    backup = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    backup.rmdir()
    os.rename(out, backup)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(backup, out)
        raise
    shutil.rmtree(backup, ignore_errors=True)
