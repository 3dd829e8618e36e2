"""The three data regimes and the dataset-directory format that carries them.

A dataset directory holds any of these ``.npy`` files:

- ``paired_a.npy`` / ``paired_b.npy``: row ``i`` of each is a matched pair.
- ``unpaired_a.npy`` / ``unpaired_b.npy``: rows with no known partner; both or neither,
  because the distribution terms (SDD, MMD) compare the two sides.
- ``unpaired_a_bags.npy`` / ``unpaired_b_bags.npy``: one integer bag id per unpaired row;
  equal ids on both sides mean the same set of objects, in unknown order. Both or neither.
- ``eval_a.npy`` / ``eval_b.npy`` / ``eval_labels.npy``: held-out pairs for evaluation only
  (labels optional).

Regimes: **pairs** (only pairs), **bags** (unpaired rows grouped in bags on both sides),
**unpaired** (unpaired A rows and B rows with no relation, "disjoint"). Zero pairs is valid.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np

from gentleclip.data.io import as_feature_matrix, error_summary, read_npy
from gentleclip.errors import InputError

FEATURE_KEYS = ("paired_a", "paired_b", "unpaired_a", "unpaired_b", "eval_a", "eval_b")
BAG_KEYS = ("unpaired_a_bags", "unpaired_b_bags")
LABEL_KEY = "eval_labels"
ALL_KEYS = (*FEATURE_KEYS, *BAG_KEYS, LABEL_KEY)


class Regime(StrEnum):
    """Which kind of unpaired data a dataset offers besides its pairs."""

    PAIRS = "pairs"
    BAGS = "bags"
    UNPAIRED = "unpaired"


_BAGS_OF_8 = (
    "distribution losses (SDD, MMD) match each step's A and B sets, which describe the "
    "same objects; measured on UCI mfeat pix->fou with 20 pairs + bags of 8: class P@1 "
    "0.766 vs 0.389 for CLIP on the pairs alone (5 seeds). Also fit a map on the bag "
    "means (gentleclip fit DIR --method auto --bag-means --tune): with bags of 8 "
    "such maps "
    "tied or beat gentle on emoji, molecules and proteins, and with bags that are nearly "
    "pairs (emoji's subcategories) won by 0.18. Add --bag-nce (each bag's mean A "
    "embedding against its mean B embedding): with bags of 8 it lifted gentle on all four "
    "suites, to ties with those maps on emoji and wins on proteins at 0-10 pairs; on "
    "molecules it ties them only with the head-only towers its recipes now have (sparse "
    "fingerprints read unstandardised; fit the maps with --param scale=false; docs/results.md). "
    "Or read the pairs as set members only (--pairs-as-items: no CLIP term, 2 pairs a step): on "
    "molecules that scored 0.531-0.556 against the recipe's 0.384-0.452 with 10-200 pairs, on "
    "mfeat and emoji 0.007-0.065 higher with 10-50, but lower and unsteady on proteins (R@10 "
    "0.352-0.468 against 0.540-0.594). With both (--bag-nce --pairs-as-items) gentle did best "
    "of these on all four suites with 10-50 pairs: against every baseline, maps on the bag "
    "means included, 8 wins and 4 ties in 12 cells (class P@1 emoji 0.668-0.675, mfeat "
    "0.780-0.818, molecules 0.569-0.581; proteins R@10 0.648-0.674; docs/results.md, "
    '"Bag-level InfoNCE with the pairs as bag members"); check it on a validation split. '
    "With 100-200 pairs it only tied those maps (class P@1 emoji 0.637-0.640, mfeat "
    "0.772-0.803, molecules 0.545-0.565); on proteins it lost to relrep with 100 (R@10 0.556 "
    "against 0.754) and cannot run with 200 (one bag left; the bag term needs two)"
)
_BAGS_OF_32 = (
    "distribution losses (SDD, MMD) match each step's A and B sets, but larger bags say less "
    "about each item: measured with bags of 32, gentle fell below its bags-of-8 scores (UCI "
    "mfeat class P@1 0.664 vs 0.766 with 20 pairs, 0.515 vs 0.801 with none) and with no "
    "pairs sat at chance on proteins. Add --bag-nce (each bag's mean A embedding against its "
    "mean B embedding): with bags of 32 and no pairs it lifted gentle on emoji, mfeat and "
    "proteins (+0.074 to +0.258) and tied or beat maps on the bag means (gentleclip fit DIR "
    "--method auto --bag-means --tune) there, but lowered molecules' recipe (0.343 against "
    "0.379); compare both on a validation split (docs/results.md, "
    '"Bag-level InfoNCE"). With pairs, reading them as set members only (--pairs-as-items) '
    "scored higher on molecules with 10-100 pairs (0.380-0.413 against 0.321-0.390) and lower "
    "with 200 (0.422 against 0.450), and lower with 10-50 on emoji (0.416-0.488 against "
    "0.492-0.557) and proteins (R@10 0.190-0.260 against 0.472-0.532): keep the CLIP term there. "
    "With --bag-nce as well it fell below gentle on mfeat (0.560-0.603 against 0.616-0.664) "
    "and proteins (R@10 0.306-0.440 against 0.472-0.532). On molecules ridge on the centred "
    "bag means (gentleclip fit DIR --method ridge --bag-means --tune --param scale=false) scored "
    "0.398-0.414 with 10-50 pairs: it beat gentle (0.321-0.353) at each count and tied "
    "--pairs-as-items (0.380-0.413)"
)
_BAGS_OF_128 = (
    "large bags: measured with bags of 128, a step of the default recipe holds random subsets "
    "of one bag; gentle sat near chance with no pairs (class P@1 0.146 / 0.165 / 0.193 on mfeat"
    " / emoji / molecules) and with 10-200 pairs lost to the best method that ignores the bags "
    "(--method clip, or gentleclip.baselines relrep / ridge) on every suite, proteins at 10-20 "
    "pairs and molecules at 10 aside. Add --bag-nce (the bag term, and steps that hold two "
    "whole bags): with no pairs it lifted gentle by 0.037-0.134 on three suites, yet maps on "
    "the bag means (gentleclip fit DIR --method auto --bag-means --tune) matched or beat it on "
    "every suite. Smaller bags pay far more (mfeat with 20 pairs: 0.285 at bags of 128, 0.766 "
    'at bags of 8; docs/results.md, "Bag-level InfoNCE"). Keep the CLIP term here: without '
    "it (--pairs-as-items) gentle fell on molecules with 50 pairs (0.233 against 0.311)"
)
MEASURED_BAG_SIZES = {8: _BAGS_OF_8, 32: _BAGS_OF_32, 128: _BAGS_OF_128}
"""What the benchmark measured at each bag size (rows per bag), as ``describe`` quotes it."""

_EXPECTATIONS = {
    Regime.UNPAIRED: (
        "disjoint sides: the distribution terms (SDD, MMD) HURT here. Start from a closed-form "
        "map (gentleclip fit --method auto --tune, what --auto fits from 8 pairs: it "
        "beat the recipe in 15 of 20 benchmark cells and lost none), the recipe on the pairs "
        "alone (sampler.use_unpaired false: it beat the recipe on all the rows in 12 of 19 and "
        "lost none) or CLIP on the pairs (--method clip). "
        "Keeping each side's neighbourhoods (recipe mfeat-disjoint: loss.w_sdd 0, loss.w_mmd 0, "
        "loss.w_nbr 0.03) beat CLIP on UCI mfeat (test class P@1 0.615 / 0.695 / 0.696 vs "
        "0.522 / 0.552 / 0.553 at 50 / 100 / 200 pairs, 5 seeds), yet relrep on the pairs did "
        "as well or better there (0.640 / 0.718 / 0.770), and the recipe lost to CLIP on emoji and "
        "molecules: check both on a validation split of your data first. Keep gentle's CLIP term "
        "(no --pairs-as-items): without it gentle fell on molecules with 50 pairs (0.205 against "
        "0.266). Bags help far more"
    ),
    Regime.PAIRS: (
        "pairs only: gentle's distribution terms act on the pairs alone. In the benchmark (4 "
        "suites, 10-200 pairs, 5 seeds) the recipe beat --method clip in 3 cells, tied it in 16 "
        "and lost 1 (molecules, 200 pairs), but from 50 pairs a closed-form map fitted on the "
        "same pairs beat the recipe in 11 of 12 cells (mfeat, 200 pairs: relrep 0.772 against "
        "0.643, clip 0.552): from 8 pairs gentleclip train --auto fits the map gentleclip fit "
        "--method auto --tune chooses by cross-validation (9 wins, 7 ties, 4 losses "
        "against the recipe in 20 cells); unpaired rows, bags above all, are what gentle gains "
        "from"
    ),
}
_DISJOINT_WITHOUT_PAIRS = (
    "disjoint sides and no pairs: nothing ties an A row to a B row, so nothing can align the two "
    "sides. The benchmark's gentle sat at chance there on every suite (test class P@1 0.093 / "
    "0.143 / 0.169 on mfeat / emoji / molecules, chance about 0.10 / 0.13 / 0.18; proteins R@10 "
    '0.082, chance 0.10), and so did each of its ablations (docs/results.md, "Ablations and '
    'references"). Add matched pairs (paired_a / paired_b) or bag ids (unpaired_a_bags / '
    "unpaired_b_bags)"
)
"""What the regime line says for disjoint sides with 0 pairs, where no method aligns anything."""


def bag_sizes(bags: np.ndarray) -> np.ndarray:
    """Rows per bag of one side's bag ids, smallest first (empty for no rows)."""
    return np.sort(np.unique(np.asarray(bags), return_counts=True)[1])


def nearest_measured_bag_size(rows_per_bag: float) -> int:
    """The measured bag size (8, 32 or 128 rows) nearest ``rows_per_bag`` on a log scale."""
    if not rows_per_bag > 0:
        raise InputError(f"rows per bag must be positive, got {rows_per_bag}")
    return min(MEASURED_BAG_SIZES, key=lambda size: abs(np.log(size / rows_per_bag)))


@dataclass(frozen=True)
class RegimeData:
    """Validated training and evaluation arrays of one dataset.

    Feature arrays are float32 and 2-D (possibly with 0 rows); bag ids are int64 1-D or None;
    eval arrays and labels are None when absent. Build it with :meth:`from_arrays` or
    :func:`load_dataset_dir`, which validate; the constructor trusts its arguments.
    """

    paired_a: np.ndarray
    paired_b: np.ndarray
    unpaired_a: np.ndarray
    unpaired_b: np.ndarray
    bags_a: np.ndarray | None = None
    bags_b: np.ndarray | None = None
    eval_a: np.ndarray | None = None
    eval_b: np.ndarray | None = None
    eval_labels: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, np.ndarray],
        *,
        require_train: bool = True,
        require_eval: bool = False,
    ) -> RegimeData:
        """Validate arrays keyed by dataset-file stem (``paired_a``, ...) and build the data."""
        unknown = sorted(set(arrays) - set(ALL_KEYS))
        if unknown:
            raise InputError(f"unknown dataset arrays {unknown}; known: {list(ALL_KEYS)}")
        if not arrays:
            raise InputError(f"no dataset arrays; expected some of {list(ALL_KEYS)}")
        checked = _check_each(arrays)
        _check_pairs(checked)
        _check_unpaired(checked)
        _check_bags(checked)
        _check_eval(checked, require_eval)
        dim_a = _common_dim(checked, ("paired_a", "unpaired_a", "eval_a"))
        dim_b = _common_dim(checked, ("paired_b", "unpaired_b", "eval_b"))
        data = cls(
            paired_a=checked.get("paired_a", np.zeros((0, dim_a), np.float32)),
            paired_b=checked.get("paired_b", np.zeros((0, dim_b), np.float32)),
            unpaired_a=checked.get("unpaired_a", np.zeros((0, dim_a), np.float32)),
            unpaired_b=checked.get("unpaired_b", np.zeros((0, dim_b), np.float32)),
            bags_a=checked.get("unpaired_a_bags"),
            bags_b=checked.get("unpaired_b_bags"),
            eval_a=checked.get("eval_a"),
            eval_b=checked.get("eval_b"),
            eval_labels=checked.get(LABEL_KEY),
        )
        if require_train and data.n_pairs == 0 and data.n_unpaired_a == 0:
            raise InputError("nothing to train on: no paired rows and no unpaired rows")
        return data

    @property
    def n_pairs(self) -> int:
        """Number of matched training pairs (may be 0)."""
        return int(self.paired_a.shape[0])

    @property
    def n_unpaired_a(self) -> int:
        """Number of unpaired A rows."""
        return int(self.unpaired_a.shape[0])

    @property
    def n_unpaired_b(self) -> int:
        """Number of unpaired B rows."""
        return int(self.unpaired_b.shape[0])

    @property
    def n_bags(self) -> int:
        """Number of distinct bags (0 without bag files)."""
        return 0 if self.bags_a is None else int(np.unique(self.bags_a).size)

    @property
    def n_eval(self) -> int:
        """Number of held-out evaluation pairs (0 when absent)."""
        return 0 if self.eval_a is None else int(self.eval_a.shape[0])

    @property
    def dim_a(self) -> int:
        """Feature dimension of modality A."""
        return int(self.paired_a.shape[1])

    @property
    def dim_b(self) -> int:
        """Feature dimension of modality B."""
        return int(self.paired_b.shape[1])

    @property
    def regime(self) -> Regime:
        """``bags`` or ``unpaired`` when unpaired rows exist, else ``pairs``."""
        if self.n_unpaired_a == 0:
            return Regime.PAIRS
        return Regime.BAGS if self.bags_a is not None else Regime.UNPAIRED

    def without_unpaired(self) -> RegimeData:
        """The same data with no unpaired rows and no bags: the pairs (and eval arrays) alone,
        as a dataset directory with only paired files reads."""
        return replace(
            self,
            unpaired_a=np.zeros((0, self.dim_a), np.float32),
            unpaired_b=np.zeros((0, self.dim_b), np.float32),
            bags_a=None,
            bags_b=None,
        )

    def train_arrays_a(self) -> np.ndarray:
        """All training rows of side A (paired then unpaired), e.g. to fit normalisation."""
        return np.concatenate([self.paired_a, self.unpaired_a], axis=0)

    def train_arrays_b(self) -> np.ndarray:
        """All training rows of side B (paired then unpaired), e.g. to fit normalisation."""
        return np.concatenate([self.paired_b, self.unpaired_b], axis=0)

    def describe(self) -> str:
        """A short multi-line summary: counts, regime, what the distribution terms buy here."""
        unpaired = f"{self.n_unpaired_a} unpaired A rows, {self.n_unpaired_b} unpaired B rows"
        if self.bags_a is not None:
            unpaired += f" in {self.n_bags} bags"
        labels = "with labels" if self.eval_labels is not None else "no labels"
        evaluation = f"{self.n_eval} pairs ({labels})" if self.eval_a is not None else "none"
        expected = self._expectation()
        if self.n_pairs == 0 and self.n_unpaired_a == 0:
            expected = "nothing to train on (evaluation data only)"
        return "\n".join(
            [
                f"train: {self.n_pairs} pairs, {unpaired}",
                f"eval: {evaluation}",
                f"dims: A {self.dim_a}, B {self.dim_b}",
                f"regime: {self.regime.value}",
                f"expected: {expected}",
            ]
        )

    @property
    def median_bag_rows(self) -> float:
        """Median rows per bag, the larger of the two sides' medians (0 without bags)."""
        if self.bags_a is None or self.bags_b is None or self.n_unpaired_a == 0:
            return 0.0
        return max(float(np.median(bag_sizes(bags))) for bags in (self.bags_a, self.bags_b))

    def _expectation(self) -> str:
        """What the distribution terms bought in the benchmark's nearest setting."""
        if self.regime is Regime.UNPAIRED and self.n_pairs == 0:
            return _DISJOINT_WITHOUT_PAIRS
        if self.regime is not Regime.BAGS:
            return _EXPECTATIONS[self.regime]
        rows = self.median_bag_rows
        size = nearest_measured_bag_size(rows)
        return (
            f"median bag {rows:g} rows, nearest measured: bags of {size}; "
            + (MEASURED_BAG_SIZES[size])
        )


def load_dataset_dir(
    path: str | os.PathLike[str], *, require_train: bool = True, require_eval: bool = False
) -> RegimeData:
    """Load and validate a dataset directory (see the module docstring for its files).

    Raises:
        InputError: missing directory, no recognised files, or any inconsistency, with the
            offending file named.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise InputError(f"{directory}: dataset directory not found")
    arrays = {
        key: read_npy(directory / f"{key}.npy", f"{key}.npy")
        for key in ALL_KEYS
        if (directory / f"{key}.npy").exists()
    }
    _check_misspelled_files(directory)
    if not arrays:
        names = ", ".join(f"{key}.npy" for key in ALL_KEYS)
        raise InputError(f"{directory}: no recognised dataset files (expected some of {names})")
    return RegimeData.from_arrays(arrays, require_train=require_train, require_eval=require_eval)


def _check_misspelled_files(directory: Path) -> None:
    """Raise InputError for a ``.npy`` whose name is close to a dataset file's but not one
    (``unpaired_a_bag.npy``): read silently, it would change the regime or drop a metric.
    Other ``.npy`` files (ids, user notes) are left alone."""
    known = [f"{key}.npy" for key in ALL_KEYS]
    for file in sorted(directory.glob("*.npy")):
        close = difflib.get_close_matches(file.name, known, n=1, cutoff=0.85)
        if file.name not in known and close:
            raise InputError(
                f"{file}: not a dataset file name; did you mean {close[0]}? "
                f"(dataset files: {', '.join(known)})"
            )


def load_full_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Load a fully paired ``.npz`` with arrays ``a``, ``b`` and optional ``labels``.

    Returns:
        ``(a, b, labels)``: float32 matrices with equal row counts, labels 1-D or None.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an .npz file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    contents = _read_npz(path)
    missing = [key for key in ("a", "b") if key not in contents]
    if missing:
        raise InputError(f"{path}: missing array(s) {missing}; found {sorted(contents)}")
    a = as_feature_matrix(contents["a"], f"{path.name}['a']")
    b = as_feature_matrix(contents["b"], f"{path.name}['b']")
    if a.shape[0] != b.shape[0]:
        raise InputError(f"{path.name}: 'a' has {a.shape[0]} rows but 'b' has {b.shape[0]}")
    labels = None
    if "labels" in contents:
        labels = _check_labels(contents["labels"], f"{path.name}['labels']")
        if labels.shape[0] != a.shape[0]:
            raise InputError(
                f"{path.name}: 'labels' has {labels.shape[0]} entries but 'a' has {a.shape[0]} rows"
            )
    return a, b, labels


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, loaded without pickle."""
    try:
        archive = np.load(path, allow_pickle=False)
        if isinstance(archive, np.ndarray):
            raise InputError(f"{path}: is a single .npy array; expected an .npz with 'a' and 'b'")
        with archive:
            return {key: archive[key] for key in archive.files}
    except InputError:
        raise
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read archive ({error_summary(exc)})") from exc
    except Exception as exc:  # numpy, zipfile, zlib raise assorted types for broken archives
        raise InputError(
            f"{path}: holds pickled objects or is unreadable ({error_summary(exc)})"
        ) from exc


def _check_each(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-array checks: features are finite 2-D float32, bags int64 1-D, labels 1-D."""
    checked: dict[str, np.ndarray] = {}
    for key, values in arrays.items():
        name = f"{key}.npy"
        if key in FEATURE_KEYS:
            checked[key] = as_feature_matrix(values, name)
        elif key in BAG_KEYS:
            checked[key] = _check_bag_ids(values, name)
        else:
            checked[key] = _check_labels(values, name)
    return checked


def _check_bag_ids(values: np.ndarray, name: str) -> np.ndarray:
    """Bag ids must be a 1-D integer array."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array of bag ids, got shape {values.shape}")
    if values.dtype.kind not in "iu":
        raise InputError(f"{name}: bag ids must be integers, got dtype {values.dtype}")
    if values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
        raise InputError(f"{name}: bag id {values.max()} does not fit in int64")
    return values.astype(np.int64)


def _check_labels(values: np.ndarray, name: str) -> np.ndarray:
    """Labels must be a 1-D array of integers or strings."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise InputError(f"{name}: expected a 1-D array of labels, got shape {values.shape}")
    if values.dtype.kind not in "iuUS":
        raise InputError(f"{name}: labels must be integers or strings, got dtype {values.dtype}")
    return values.astype(np.int64) if values.dtype.kind in "iu" else values


def _require_both(checked: Mapping[str, np.ndarray], first: str, second: str, why: str) -> bool:
    """True when both keys are present, False when neither; InputError when only one is."""
    if (first in checked) != (second in checked):
        present, absent = (first, second) if first in checked else (second, first)
        raise InputError(f"{present}.npy is present but {absent}.npy is missing ({why})")
    return first in checked


def _check_rows(checked: Mapping[str, np.ndarray], first: str, second: str) -> None:
    """Two arrays must have the same number of rows."""
    n_first, n_second = checked[first].shape[0], checked[second].shape[0]
    if n_first != n_second:
        raise InputError(
            f"{first}.npy has {n_first} rows but {second}.npy has {n_second}; they must match"
        )


def _check_pairs(checked: Mapping[str, np.ndarray]) -> None:
    """Paired files come together and have equal row counts."""
    if _require_both(checked, "paired_a", "paired_b", "row i of each is a matched pair"):
        _check_rows(checked, "paired_a", "paired_b")


def _check_unpaired(checked: Mapping[str, np.ndarray]) -> None:
    """Unpaired files come together (SDD/MMD compare both sides) and are not empty."""
    why = "the distribution terms compare both sides"
    if not _require_both(checked, "unpaired_a", "unpaired_b", why):
        return
    for key in ("unpaired_a", "unpaired_b"):
        if checked[key].shape[0] == 0:
            raise InputError(f"{key}.npy has 0 rows; remove the unpaired files or add rows")


def _check_bags(checked: Mapping[str, np.ndarray]) -> None:
    """Bag files come together, match their unpaired files, and use the same id sets."""
    for bag_key, rows_key in zip(BAG_KEYS, ("unpaired_a", "unpaired_b"), strict=True):
        if bag_key in checked and rows_key not in checked:
            raise InputError(f"{bag_key}.npy is present but {rows_key}.npy is missing")
    why = "equal bag ids on both sides name the same set of objects"
    if not _require_both(checked, *BAG_KEYS, why):
        return
    for bag_key, rows_key in zip(BAG_KEYS, ("unpaired_a", "unpaired_b"), strict=True):
        _check_rows(checked, bag_key, rows_key)
    ids_a = set(np.unique(checked["unpaired_a_bags"]).tolist())
    ids_b = set(np.unique(checked["unpaired_b_bags"]).tolist())
    if ids_a != ids_b:
        only_a, only_b = sorted(ids_a - ids_b)[:5], sorted(ids_b - ids_a)[:5]
        raise InputError(
            "bag ids differ between sides: "
            f"only in unpaired_a_bags.npy {only_a}, only in unpaired_b_bags.npy {only_b}"
        )


def _check_eval(checked: Mapping[str, np.ndarray], require_eval: bool) -> None:
    """Eval files come together with equal rows; labels need them and match their length."""
    has_eval = _require_both(checked, "eval_a", "eval_b", "row i of each is a held-out pair")
    if LABEL_KEY in checked and not has_eval:
        raise InputError("eval_labels.npy is present but eval_a.npy and eval_b.npy are missing")
    if require_eval and not has_eval:
        raise InputError("no evaluation data: eval_a.npy and eval_b.npy are required here")
    if not has_eval:
        return
    _check_rows(checked, "eval_a", "eval_b")
    if LABEL_KEY in checked:
        _check_rows(checked, LABEL_KEY, "eval_a")


def _common_dim(checked: Mapping[str, np.ndarray], keys: tuple[str, ...]) -> int:
    """The feature dimension shared by all present arrays of one side (0 when none)."""
    dims = {key: checked[key].shape[1] for key in keys if key in checked}
    if len(set(dims.values())) > 1:
        listed = ", ".join(f"{key}.npy has {dim}" for key, dim in dims.items())
        raise InputError(f"feature dimensions differ within one side: {listed}")
    return next(iter(dims.values()), 0)
