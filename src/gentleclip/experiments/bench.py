"""Benchmark suite: every method on a grid of (regime, pairs, seed) cells of a shipped dataset.

One *cell* is (suite, regime, pairs, seed, method). For each cell:

1. The test pairs are held out exactly as :func:`~gentleclip.data.split.split_full` does with
   the suite's ``DemoSetting.test_size`` and the cell's seed (:func:`test_rows`).
2. Hyper-parameters are chosen on a *validation* split carved from the training items only:
   the test rows are removed, the rest is split again (its own validation pairs, the cell's
   number of training pairs, the cell's regime). Every method gets the same number of
   candidates (``tune_budget``): trained methods a fixed list of (steps, lr) variations of
   their recipe (candidates differing only in steps share one run, scored at each step
   count), baselines evenly spaced entries of ``get_baseline(name).param_grid()``. With
   ``search="halving"`` a trained method's runs stop at the shortest candidate step count and
   only the best one goes on (:func:`score_trained`). Trained methods train in process
   (:mod:`gentleclip.training.inprocess`, the same weights as ``gentleclip train`` without
   Lightning's per-step overhead).
3. The best candidate (validation headline metric) is trained on the full training part and
   scored once on the test pairs. With ``refit=False`` (``--no-refit``) its model from the
   validation search is scored instead, with no second training.

Rows are appended to ``results.jsonl`` (one JSON object per cell, resumable: cells already
present are skipped; ``bench.json`` and ``recipes.json`` refuse a resume with other settings or
after a recipe changed); :func:`write_report` turns them into ``results.md`` and PNG plots.
Regimes: ``bags:K`` (fixed bags of K), ``unpaired`` (disjoint halves), ``natural`` (the suite's
natural groups as bags). The ``oracle`` trains the clip recipe on every training item as a pair.
The ``*-bagmeans`` methods fit both splits' pairs followed by each bag's mean A row and mean B
row (:mod:`gentleclip.data.bag_means`), so pair-only methods use the bags too.
Every method computes one result per set of identical splits and shares it between cells
(:func:`evaluate_cell`). Methods that ignore bag ids (clip, the closed-form baselines, the
oracle) see the same splits for every bag size: the oracle is computed once per (suite, seed),
the others once for all bag sizes at a pair count and seed. A trained method that does not
read the unpaired rows at all (clip on unstandardised inputs, as molecules' recipe has it)
is computed once for bags and disjoint sides alike. Methods that read bags share only when
the bag ids match too (e.g. when every unpaired row falls in one bag at all bag sizes).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import heapq
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from gentleclip.baselines.tuning import spread
from gentleclip.data.bag_means import with_bag_means
from gentleclip.data.datasets.domain import DomainData
from gentleclip.data.io import check_output_dir, read_json_object
from gentleclip.data.regimes import RegimeData
from gentleclip.data.split import ROWS_LEFT_NEEDED, split_full, test_rows
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path, save_figure_atomic, write_json_atomic
from gentleclip.evaluation.retrieval import check_ties
from gentleclip.experiments import datasets, denormals, malloc, speed
from gentleclip.experiments.speed import one_torch_thread
from gentleclip.recipes import BAG_NCE_BAGS_PER_STEP, load_recipe, recipe_overrides

RESULTS = "results.jsonl"
REPORT = "results.md"
SETTINGS = "bench.json"
# what each recipe and each suite's closed-form parameters were when an out dir's rows were
# made: name -> SHA-256 of the resolved config (resuming after one changed would mix results)
RECIPES = "recipes.json"
# settings a bench.json from before they existed leaves out, with the value those runs used
OLDER_SETTINGS: dict[str, Any] = {"search": "full", "refit": True, "ties": "optimistic"}
# settings bench.json leaves out when unset (the value they then have)
UNSET_SETTINGS: dict[str, Any] = {"recipe_override": {}, "baseline_override": {}}
FALLBACK_HEADLINE = "a_to_b_R@10"
# (steps factor, lr factor) around each recipe, most plausible first: a budget of K takes the
# first K, so every trained method gets the same K candidates. Step counts at one learning
# rate share a training run (scored at each count), so the grid goes step-count pairs first:
# budget 2 costs one run, budget 4 two.
TRAINED_GRID: tuple[tuple[float, float], ...] = (
    (1.0, 1.0),
    (0.5, 1.0),
    (1.0, 2.0),
    (0.5, 2.0),
    (1.5, 1.0),
    (1.0, 0.5),
    (0.25, 1.0),
    (1.5, 0.5),
)
# the largest budget every method can spend: the trained grid above and each baseline's
# param_grid() hold this many candidates (a test checks the baselines)
MAX_TUNE_BUDGET = len(TRAINED_GRID)
# how trained methods spend their candidates: "full" trains every candidate to its step count;
# "halving" (successive halving) trains every learning rate to the shortest candidate step
# count, scores them there, and continues only the best one (the others' longer candidates
# are pruned: never scored). Closed-form baselines always score every candidate.
SEARCHES = ("full", "halving")


@dataclass(frozen=True)
class Trained:
    """A method trained by :func:`gentleclip.training.fit.train` from a suite recipe."""

    recipe: str  # "gentle" or "clip": the recipe ``<suite>-<recipe>``
    overrides: dict[str, Any] = field(default_factory=dict)
    min_pairs: int = 0
    oracle: bool = False
    reads_bags: bool = True  # False: the result depends on the split's rows, not its bag ids
    bag_means: bool = False  # True: each bag's mean rows join the pairs (data.bag_means)
    # False: in a bags regime the method trains on the unpaired rows as two plain sets, as on
    # disjoint data (bag ids dropped, rows in a canonical order: as_sets), so its result is
    # the same at every bag size and is computed once (S-CLIP has no notion of bags)
    sees_bags: bool = True
    # > 0: in a bags:K regime a step holds at least this many whole bags (the recipe's
    # sampler.unpaired_per_step raised to bags_per_step * K where it is smaller)
    bags_per_step: int = 0


@dataclass(frozen=True)
class Baseline:
    """A closed-form/classical method from :mod:`gentleclip.baselines`."""

    name: str
    min_pairs: int = 2
    reads_bags: bool = False  # unpaired rows only enter label-free statistics
    bag_means: bool = False  # True: each bag's mean rows join the pairs (data.bag_means)


def merge_nested(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with the nested dict ``override`` merged in (override wins)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        merged = merge_nested(out.get(key, {}), value) if isinstance(value, dict) else value
        out[key] = merged
    return out


# neighbourhood preservation on the suite's CLIP recipe: SDD and MMD off, w_nbr 0.03 on every row
_NBR: dict[str, Any] = {
    "method": "gentle",
    "loss": {"w_clip": 1.0, "w_sdd": 0.0, "w_mmd": 0.0, "w_nbr": 0.03},
}

_DETACHED: dict[str, Any] = {"pseudo_detach_targets": True}

METHODS: dict[str, Trained | Baseline] = {
    "gentle": Trained("gentle"),
    "clip": Trained("clip", min_pairs=2, reads_bags=False),
    "sclip": Trained("clip", {"method": "sclip"}, min_pairs=2, sees_bags=False),
    "ridge": Baseline("ridge"),
    "procrustes": Baseline("procrustes"),
    "cca": Baseline("cca"),
    "relrep": Baseline("relrep"),
    # scikit-learn's CCA, the reference our closed-form ``cca`` is measured against (group
    # "reference"); not in "compare": the published grids compare gentle with ``cca``
    "cca-sklearn": Baseline("cca-sklearn"),
    # ``sclip`` with the library's earlier pseudo-label settings (Sinkhorn epsilon 0.1, 50
    # iterations, caption loss at full weight; recipe ``sclip-legacy``): what the published
    # sclip rows before the switch to the S-CLIP authors' settings were made with (group
    # "reference")
    "sclip-legacy": Trained("clip", recipe_overrides("sclip-legacy"), min_pairs=2),
    # sclip with fixed (detached) pseudo-labels: what the tables' sclip column was from session
    # f3017d3's run until session f65ce9c made gradients flow through the plan, as S-CLIP's code
    "sclip-detached": Trained("clip", {"method": "sclip", "loss": _DETACHED}, min_pairs=2),
    # that, plus S-CLIP's extra negatives: the unpaired A rows in CLIP's B -> A direction
    "sclip-negatives": Trained(
        "clip",
        {"method": "sclip", "loss": {**_DETACHED, "pseudo_extra_negatives": True}},
        min_pairs=2,
    ),
    # sclip plus those extra negatives: every detail of S-CLIP's code that applies here
    "sclip-code": Trained(
        "clip", {"method": "sclip", "loss": {"pseudo_extra_negatives": True}}, min_pairs=2
    ),
    # S-CLIP's code learns CLIP's temperature and sets Sinkhorn's epsilon to it at every step
    # (``reg = 1 / logit_scale``); these two learn it from open_clip's 1 / 0.07, the clip
    # recipe's fixed 0.05 otherwise unchanged, so sclip and clip are compared the same way
    "sclip-learned": Trained(
        "clip",
        {"method": "sclip", "loss": {"learnable_scale": True, "pseudo_epsilon_from_scale": True}},
        min_pairs=2,
    ),
    "clip-learned": Trained(
        "clip", {"loss": {"learnable_scale": True}}, min_pairs=2, reads_bags=False
    ),
    "oracle": Trained("clip", oracle=True, reads_bags=False),
    "gentle-no-sdd": Trained("gentle", {"loss": {"w_sdd": 0.0}}),
    "gentle-no-mmd": Trained("gentle", {"loss": {"w_mmd": 0.0}}),
    "gentle-ssl": Trained("gentle", {"loss": {"w_ssl": 0.15}}),
    "gentle-sdd-loo": Trained("gentle", {"loss": {"sdd_leave_one_out": True}}),
    "gentle-sdd-norm": Trained("gentle", {"loss": {"sdd_normalize": True}}),
    # the disjoint-data candidate: the suite's CLIP recipe plus neighbourhood preservation on
    # every row of each side (unpaired rows enter the steps as gentle's do); no SDD or MMD
    "clip-nbr": Trained("clip", _NBR, min_pairs=2),
    # the same with a softer shared-space neighbour distribution (temperature 0.3 instead of
    # 0.1): the best of the temperatures tried on emoji's validation splits
    "clip-nbr-soft": Trained(
        "clip", {**_NBR, "loss": {**_NBR["loss"], "nbr_temperature": 0.3}}, min_pairs=2
    ),
    # the recipe on the pairs alone, the unpaired rows left out (sampler.use_unpaired false):
    # what train --auto does on disjoint sides with pairs. Its rows equal gentle's in the
    # regime pairs of the same seed wherever the validation split holds as many pairs
    "gentle-pairs-alone": Trained("gentle", {"sampler": {"use_unpaired": False}}, reads_bags=False),
    # every bag's mean A row and mean B row as one more pair (exact under a linear map); bags
    # regimes only. gentle given these pseudo-pairs (its CLIP term sees them, SDD and MMD the
    # bags as before), then the bag-aware baselines: pair-only methods that so use the bags too
    "gentle-bagmeans": Trained("gentle", bag_means=True),
    "clip-bagmeans": Trained("clip", min_pairs=0, bag_means=True),
    "ridge-bagmeans": Baseline("ridge", min_pairs=0, reads_bags=True, bag_means=True),
    "procrustes-bagmeans": Baseline("procrustes", min_pairs=0, reads_bags=True, bag_means=True),
    "cca-bagmeans": Baseline("cca", min_pairs=0, reads_bags=True, bag_means=True),
    "relrep-bagmeans": Baseline("relrep", min_pairs=0, reads_bags=True, bag_means=True),
    # gentle plus the bag-level InfoNCE (losses.BagCLIPLoss, loss.w_bag): each bag's mean A
    # embedding against its mean B embedding, with 128 unpaired rows a step (16 bags of 8,
    # 15 negatives each) instead of 32 (recipe bag-nce); bags regimes only (docs/results.md,
    # "Bag-level InfoNCE")
    # bags_per_step: recipe bag-nce's 128 rows hold one bag of 128, and the term needs 2
    "gentle-bagnce": Trained(
        "gentle", recipe_overrides("bag-nce"), bags_per_step=BAG_NCE_BAGS_PER_STEP
    ),
    # gentle without its CLIP term, the pairs only two more members of each step's A and B
    # sets, 2 a step (each pair a fifth of the steps at 10 pairs, not every one; recipe
    # pairs-as-items): what molecules' validation splits preferred with small bags
    # (docs/results.md, "The pairs as bag members")
    "gentle-items": Trained("gentle", recipe_overrides("pairs-as-items")),
    # both: the bag-level InfoNCE ties the bags where the CLIP term no longer ties the pairs
    # (`gentleclip train --bag-nce --pairs-as-items`; docs/results.md, "Bag-level InfoNCE
    # with the pairs as bag members")
    "gentle-bagnce-items": Trained(
        "gentle",
        merge_nested(recipe_overrides("bag-nce"), recipe_overrides("pairs-as-items")),
        bags_per_step=BAG_NCE_BAGS_PER_STEP,
    ),
}
# methods that learn from the bags themselves, beyond gentle's distribution terms
BAG_LEVEL = ("gentle-bagnce",)
# gentle reading its pairs as set members only (no CLIP term), with and without the bag-level
# InfoNCE; not an issue's ablation
PAIRS_AS_ITEMS = ("gentle-items", "gentle-bagnce-items")


# studied on disjoint data; not (yet) methods to compare by default
DISJOINT = ("clip-nbr", "clip-nbr-soft", "gentle-pairs-alone")
ABLATIONS = tuple(
    name
    for name, spec in METHODS.items()
    if name.startswith("gentle-")
    and not spec.bag_means
    and name not in (*BAG_LEVEL, *PAIRS_AS_ITEMS, *DISJOINT)
)
# methods given each bag's means as pairs (bags regimes only): gentle-bagmeans, and the
# pair-only methods given them (BAG_MEANS), which count as gentle's rivals where they ran
WITH_BAG_MEANS = tuple(name for name, spec in METHODS.items() if spec.bag_means)
BAG_MEANS = tuple(
    name
    for name, spec in METHODS.items()
    if spec.bag_means and not (isinstance(spec, Trained) and spec.recipe == "gentle")
)
# what our own implementations are checked against: a library's, our earlier settings, and
# the details of S-CLIP's code that ``sclip`` leaves out by default (extra negatives, a
# learned temperature; CLIP with the learned temperature beside it)
REFERENCE = (
    "cca-sklearn",
    "sclip-legacy",
    "sclip-detached",
    "sclip-negatives",
    "sclip-code",
    "sclip-learned",
    "clip-learned",
)
# ``--methods`` accepts these names for whole groups; "compare" (gentle against every method
# a user could pick instead) is the bench default, ablations are their own (costlier) study,
# "disjoint" the candidates for disjoint unpaired data (``--regime unpaired``), "reference"
# our CCA beside scikit-learn's, and S-CLIP beside its earlier settings and variants;
# "bagmeans" gentle against pair-only methods that also fit each bag's mean rows as a pair,
# and gentle with the bag-level InfoNCE; "items" gentle beside gentle without its CLIP term.
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    "compare": tuple(
        name
        for name in METHODS
        if name
        not in (*ABLATIONS, *DISJOINT, *REFERENCE, *WITH_BAG_MEANS, *BAG_LEVEL, *PAIRS_AS_ITEMS)
    ),
    "ablations": ("gentle", *ABLATIONS),
    "disjoint": ("gentle", "clip", *DISJOINT),
    "reference": ("cca", "sclip", *REFERENCE),
    "bagmeans": ("gentle", *WITH_BAG_MEANS, *BAG_LEVEL),
    "items": ("gentle", *PAIRS_AS_ITEMS),
    "all": tuple(METHODS),
}


def parse_methods(text: str) -> list[str]:
    """Comma-separated method names and group names (``compare``, ``ablations``, ``disjoint``,
    ``reference``, ``all``)."""
    known = [*METHODS, *METHOD_GROUPS]
    names = parse_names(text, known, "method")
    expanded = [m for name in names for m in METHOD_GROUPS.get(name, (name,))]
    return list(dict.fromkeys(expanded))


class Unavailable(Exception):
    """The method is not part of this installation (yet): nothing is recorded for the cell."""


class Skipped(Exception):
    """The method cannot run this cell (e.g. too few pairs): recorded with the reason."""


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class Regime:
    """``bags:K``, ``unpaired``, ``natural`` or ``pairs`` (the pairs alone, no unpaired rows)."""

    kind: str  # "bags", "unpaired", "natural", "pairs"
    bag_size: int = 8

    @property
    def label(self) -> str:
        return f"bags:{self.bag_size}" if self.kind == "bags" else self.kind

    @property
    def split_regime(self) -> str:
        """The ``split_full`` regime that makes its splits (natural groups are bags)."""
        return "bags" if self.kind == "natural" else self.kind

    @property
    def order(self) -> tuple[int, int]:
        """Sort key: bags by size, then natural, unpaired, pairs."""
        return ({"bags": 0, "natural": 1, "unpaired": 2, "pairs": 3}[self.kind], self.bag_size)


def parse_regime(text: str) -> Regime:
    """``"bags:8"`` -> Regime("bags", 8); ``"unpaired"``; ``"natural"``; ``"pairs"``."""
    text = text.strip()
    if text in ("unpaired", "natural", "pairs"):
        return Regime(text)
    kind, _, size = text.partition(":")
    if kind == "bags" and size.isdigit() and int(size) >= 1:
        return Regime("bags", int(size))
    raise InputError(f"unknown regime {text!r}; use bags:K (K >= 1), unpaired, natural or pairs")


def parse_int_list(text: str, name: str, minimum: int = 0) -> list[int]:
    """``"0,10,20"`` -> [0, 10, 20] (each >= ``minimum``, duplicates dropped)."""
    values = []
    for part in text.split(","):
        if not part.strip().isdigit() or int(part) < minimum:
            raise InputError(f"bad {name} value {part.strip()!r}: need integers >= {minimum}")
        values.append(int(part))
    return list(dict.fromkeys(values))


def parse_seeds(text: str) -> list[int]:
    """``"5"`` -> seeds 0..4; ``"0,3,7"`` -> those seeds."""
    if "," in text:
        return parse_int_list(text, "seed")
    count = parse_int_list(text, "seeds", minimum=1)[0]
    return list(range(count))


def parse_names(text: str, known: Iterable[str], what: str) -> list[str]:
    """Comma-separated names, each one of ``known``."""
    known = list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise InputError(f"unknown {what} {name!r}; choose from {', '.join(known)}")
    if not names:
        raise InputError(f"no {what} given")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Cell:
    """One (suite, regime, pairs, seed, method) result."""

    suite: str
    regime: str
    pairs: int
    seed: int
    method: str

    @property
    def key(self) -> tuple[str, str, int, int, str]:
        return (self.suite, self.regime, self.pairs, self.seed, self.method)

    def describe(self) -> str:
        return f"{self.suite} {self.regime} pairs={self.pairs} seed={self.seed} {self.method}"


@dataclass(frozen=True)
class BenchOptions:
    """What changes results besides the cell: recorded in ``bench.json``, fixed per out dir."""

    out: Path
    tune_budget: int = 4
    steps: int | None = None
    search: str = "halving"
    # True: the chosen candidate is trained again on the whole training part (scikit-learn's
    # refit) and that model is scored on the test pairs; False: the chosen candidate's model
    # from the validation search (trained on the training part less the validation items) is
    # scored on the test pairs, with no second training
    refit: bool = True
    # how retrieval metrics count gallery items tied with the one that counts
    # (gentleclip.evaluation.retrieval): "expected" (random tie-breaking) or "optimistic"
    ties: str = "expected"
    # a nested override merged into every trained method's recipe (``--recipe-override``),
    # under the method's own overrides (setting a field they set is refused); empty: the
    # recipes as they are
    recipe_override: dict[str, Any] = field(default_factory=dict)
    # hyper-parameters set on every closed-form baseline's candidates (``--baseline-override``,
    # e.g. {"scale": false}), over the suite's own (datasets.DatasetEntry.baseline_params:
    # molecules' maps read centred, unscaled features); empty: their grids and the suite's
    baseline_override: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The settings ``bench.json`` records; the overrides only where one is set, so
        folders from before those options (and without them) keep their settings."""
        settings: dict[str, Any] = {
            "tune_budget": self.tune_budget,
            "steps": self.steps,
            "search": self.search,
            "refit": self.refit,
            "ties": self.ties,
        }
        for name in UNSET_SETTINGS:
            if getattr(self, name):
                settings[name] = getattr(self, name)
        return settings

    def check(self) -> None:
        """Raise InputError for a budget outside 1..MAX_TUNE_BUDGET, a step count below 1 or an
        unknown search."""
        if self.search not in SEARCHES:
            raise InputError(f"unknown --search {self.search!r}; use one of {', '.join(SEARCHES)}")
        if not 1 <= self.tune_budget <= MAX_TUNE_BUDGET:
            raise InputError(
                f"--tune-budget must be between 1 and {MAX_TUNE_BUDGET} (the candidates every "
                f"method has), got {self.tune_budget}"
            )
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps must be >= 1, got {self.steps}")
        check_ties(self.ties, "--ties")


def plan(
    suites: Sequence[str],
    regimes: Sequence[str],
    pairs: Sequence[int],
    seeds: Sequence[int],
    methods: Sequence[str],
) -> list[Cell]:
    """Every cell of the grid, seeds outermost so early results cover the whole grid."""
    return [
        Cell(suite, regime, p, seed, method)
        for suite in suites
        for seed in seeds
        for regime in regimes
        for p in pairs
        for method in methods
    ]


# ---------------------------------------------------------------- data


@functools.lru_cache(maxsize=4)
def load_domain(suite: str) -> DomainData:
    """The suite's dataset (cached: cells of a suite share it)."""
    return datasets.build(suite)


def headline_key(suite: str, domain: DomainData) -> str:
    """The suite's headline metric; a->b R@10 when it needs labels the suite lacks."""
    key = datasets.entry(suite).setting.headline
    return FALLBACK_HEADLINE if "class" in key and domain.primary_labels is None else key


def validation_size(n: int, test_size: int) -> int:
    """Validation pairs carved from the ``n - test_size`` training items."""
    return max(1, min(test_size, (n - test_size) // 4))


def _split(
    domain: DomainData, rows: np.ndarray, regime: Regime, pairs: int, held: int, seed: int
) -> dict[str, np.ndarray]:
    """split_full on ``rows`` of the domain (``pairs=-1``: the oracle's all-pairs split)."""
    labels = domain.primary_labels
    sub = (domain.a[rows], domain.b[rows], None if labels is None else labels[rows])
    if pairs < 0:  # oracle: every non-held-out row is a pair
        return _all_pairs(*sub, held=held, seed=seed)
    if regime.kind == "natural" and domain.groups is None:
        raise Skipped(f"suite {domain.name} has no natural groups")
    groups = domain.groups[rows] if regime.kind == "natural" else None
    return split_full(
        *sub,
        pairs=pairs,
        regime=regime.split_regime,
        bag_size=regime.bag_size,
        test_size=held,
        seed=seed,
        groups=groups,
    )


def _all_pairs(
    a: np.ndarray, b: np.ndarray, labels: np.ndarray | None, *, held: int, seed: int
) -> dict[str, np.ndarray]:
    """split_full's test rows held out, every other row a training pair (same row order)."""
    order = np.random.default_rng(seed).permutation(len(a))
    test, train = order[:held], order[held:]
    out = {"paired_a": a[train], "paired_b": b[train], "eval_a": a[test], "eval_b": b[test]}
    if labels is not None:
        out["eval_labels"] = labels[test]
    return out


@dataclass(frozen=True)
class CellData:
    """The test split and the validation split (training items only) of one cell."""

    test: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    val_size: int
    val_pairs: int


def cell_data(domain: DomainData, cell: Cell, test_size: int, oracle: bool) -> CellData:
    """Hold out the test pairs (split_full semantics), then carve validation from the rest."""
    regime = parse_regime(cell.regime)
    n = len(domain.a)
    everything = np.arange(n)
    pairs = -1 if oracle else cell.pairs
    try:
        test = _split(domain, everything, regime, pairs, test_size, cell.seed)
    except InputError as err:
        raise Skipped(f"split impossible: {err}") from err
    train_rows = np.setdiff1d(everything, test_rows(n, test_size=test_size, seed=cell.seed))
    val_size = validation_size(n, test_size)
    room = len(train_rows) - val_size - ROWS_LEFT_NEEDED[regime.split_regime]
    val_pairs = -1 if oracle else max(0, min(cell.pairs, room))
    try:
        val = _split(domain, train_rows, regime, val_pairs, val_size, 1000 + cell.seed)
    except InputError as err:
        raise Skipped(f"validation split impossible: {err}") from err
    return CellData(test, val, val_size, len(val["paired_a"]))


# ---------------------------------------------------------------- candidates


def set_dotted(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``config[a][b][c] = value`` for ``dotted = "a.b.c"`` (sections created as needed)."""
    section, _, name = dotted.rpartition(".")
    target = config
    for part in filter(None, section.split(".")):
        target = target.setdefault(part, {})
    target[name] = value


def base_config(
    suite: str,
    spec: Trained,
    steps: int | None,
    seed: int,
    recipe_override: dict[str, Any] | None = None,
    recipe: str | None = None,
) -> dict[str, Any]:
    """The method's recipe as a nested dict, with ``recipe_override`` (``--recipe-override``)
    and then the method's own overrides merged in, its seed and a quiet trainer. ``recipe``:
    the shipped recipe to start from instead of ``SUITE-RECIPE`` (a benchmark that measured
    a recipe since renamed, e.g. ``molecules-gentle-wide``)."""
    name = recipe or f"{suite}-{spec.recipe}"
    config = with_recipe_override(load_recipe(name).to_dict(), recipe_override)
    config = merge_nested(config, spec.overrides)
    config["seed"] = seed
    config["trainer"]["progress"] = False
    if steps is not None:
        config["optim"].update(steps=steps, epochs=None)
    return config


def with_bags_per_step(config: dict[str, Any], spec: Trained, regime: str) -> dict[str, Any]:
    """``config`` with room for ``spec.bags_per_step`` whole bags in a step of a ``bags:K``
    regime (unchanged for other methods and regimes, and where the recipe's step is larger)."""
    parsed = parse_regime(regime)
    if not spec.bags_per_step or parsed.kind != "bags":
        return config
    rows = config["sampler"]["unpaired_per_step"]
    needed = spec.bags_per_step * parsed.bag_size
    if rows >= needed:
        return config
    return merge_nested(config, {"sampler": {"unpaired_per_step": needed}})


def with_recipe_override(config: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """``config`` with the nested ``override`` merged in. A tower whose encoder the override
    renames starts from that encoder's own options unless the override gives some: the
    recipe's options were the old encoder's (the MLP's ``hidden_dims`` mean nothing to
    ``identity``). ``training.config.config_from_dict`` has the same rule for a partial config
    over the defaults."""
    if not override:
        return config
    model = override.get("model", {})
    renamed = [
        side
        for side in ("a", "b")
        if f"encoder_{side}" in model and f"encoder_{side}_kwargs" not in model
    ]
    config = merge_nested(config, override)
    for side in renamed:
        config["model"][f"encoder_{side}_kwargs"] = {}
    return config


def parse_override(text: str | None, option: str, example: str) -> dict[str, Any]:
    """``--recipe-override`` / ``--baseline-override``: a JSON object; {} for None."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{option} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise InputError(f"{option} must be a JSON object such as '{example}', got {text!r}")
    return value


def parse_recipe_override(text: str | None) -> dict[str, Any]:
    """``--recipe-override``: a JSON object (nested, as a recipe's YAML); {} for None."""
    return parse_override(text, "--recipe-override", '{"model": {"embed_dim": 256}}')


def parse_baseline_override(text: str | None) -> dict[str, Any]:
    """``--baseline-override``: a JSON object of baseline hyper-parameters; {} for None."""
    return parse_override(text, "--baseline-override", '{"scale": false}')


def check_baseline_override(override: dict[str, Any], cells: Sequence[Cell]) -> None:
    """Raise InputError, before any cell runs, where ``override`` names a hyper-parameter a
    cell's baseline does not have or gives one a value of the wrong kind (a baseline that is
    not available is left to its cells, which record it)."""
    if not override:
        return
    from gentleclip.baselines.base import check_params

    specs = [METHODS[c.method] for c in cells]
    for name in sorted({spec.name for spec in specs if isinstance(spec, Baseline)}):
        try:
            baseline = _baseline(name)
        except Unavailable:
            continue
        try:
            check_params(override, baseline.defaults, name, baseline.kinds)
        except InputError as err:
            raise InputError(f"--baseline-override: {err}") from None


def check_recipe_override(override: dict[str, Any], cells: Sequence[Cell]) -> None:
    """Raise InputError, before any cell runs, where ``override`` makes a cell's recipe
    invalid (an unknown field, a bad value)."""
    if not override:
        return
    from gentleclip.training.config import config_from_dict

    specs = {(c.suite, c.method) for c in cells if isinstance(METHODS[c.method], Trained)}
    for suite, method in sorted(specs):
        spec = METHODS[method]
        assert isinstance(spec, Trained)
        clash = sorted(set(_leaves(override)) & set(_leaves(spec.overrides)))
        if clash:
            raise InputError(
                f"--recipe-override sets {', '.join(clash)}, which method {method} sets itself "
                "(its own setting would win): leave it out, or run a method that does not set it"
            )
        try:
            config_from_dict(base_config(suite, spec, None, 0, override))
        except InputError as err:
            raise InputError(f"--recipe-override on {suite} {method}: {err}") from None


def _leaves(nested: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the non-mapping values of ``nested``."""
    names = []
    for key, value in nested.items():
        name = f"{prefix}{key}"
        names += _leaves(value, f"{name}.") if isinstance(value, dict) else [name]
    return names


def trained_candidates(config: dict[str, Any], budget: int) -> list[dict[str, Any]]:
    """The first ``budget`` (steps, lr) variations of ``config`` as dotted overrides."""
    optim = config["optim"]
    length = "steps" if optim.get("steps") is not None else "epochs"
    out = []
    for steps_x, lr_x in TRAINED_GRID[:budget]:
        out.append(
            {
                f"optim.{length}": max(1, round(optim[length] * steps_x)),
                "optim.lr": float(optim["lr"]) * lr_x,
            }
        )
    return out


# ---------------------------------------------------------------- fitting one candidate


def _headline(metrics: dict[str, float], key: str) -> float:
    return float(metrics.get(key, metrics[FALLBACK_HEADLINE]))


def _training_method_available(method: str) -> bool:
    from gentleclip.training import config

    return method in config.METHODS


def fit_trained(
    config: dict[str, Any], arrays: dict[str, np.ndarray], ties: str = "expected"
) -> dict[str, float]:
    """Train ``config`` on the training ``arrays`` (in process), evaluate on their eval pairs."""
    run = ScoredRun(config, arrays, ties=ties)
    length = config.get("optim", {}).get("steps")
    if length is None:  # epoch-based or default length: one run, scored at its end
        return run.finish()
    run.advance([int(length)])
    return run.scores[int(length)]


def fit_trained_steps(
    config: dict[str, Any], arrays: dict[str, np.ndarray], steps: Sequence[int]
) -> dict[int, dict[str, float]]:
    """One run of ``max(steps)`` steps scored after each of ``steps``: the model after k steps
    of that run equals a k-step run (:mod:`gentleclip.training.inprocess`)."""
    run = ScoredRun(_longest(config, steps), arrays)
    run.advance(steps)
    return run.scores


def _longest(config: dict[str, Any], steps: Iterable[int]) -> dict[str, Any]:
    longest = copy.deepcopy(config)
    longest["optim"].update(steps=max(steps), epochs=None)
    return longest


class ScoredRun:
    """One in-process training run on the training ``arrays``, scored on their eval pairs.

    ``advance(steps)`` trains on to the largest of ``steps`` and stores the metrics after
    each in ``scores[step]``; a later call continues the same run. ``train_seconds`` counts
    training only, from the start of the run to that step. With ``keep`` a copy of the model
    at each scored step is kept too, in ``models[step]`` (``--no-refit`` scores the chosen
    one on the test pairs). ``ties`` is the metrics' tie rule.
    """

    def __init__(
        self,
        config: dict[str, Any],
        arrays: dict[str, np.ndarray],
        *,
        keep: bool = False,
        ties: str = "expected",
    ) -> None:
        from gentleclip.training.config import config_from_dict
        from gentleclip.training.inprocess import InProcessRun

        train_only = {k: v for k, v in arrays.items() if not k.startswith("eval_")}
        self.run = InProcessRun(RegimeData.from_arrays(train_only), config_from_dict(config))
        self.arrays = arrays
        self.scores: dict[int, dict[str, float]] = {}
        self.models: dict[int, Any] = {}
        self.keep = keep
        self.ties = ties
        self.seconds = 0.0

    def advance(self, steps: Iterable[int]) -> None:
        """Train to ``max(steps)`` (steps already passed are ignored), scoring at each."""
        wanted = sorted({int(k) for k in steps if k > self.run.step})
        if not wanted:
            return
        start, paused = time.perf_counter(), 0.0

        def score(step: int, model: Any) -> None:
            nonlocal paused
            began = time.perf_counter()
            self._score(step, model, self.seconds + began - start - paused)
            paused += time.perf_counter() - began

        self.run.advance(wanted[-1], snapshots=wanted, on_snapshot=score)
        self.seconds += time.perf_counter() - start - paused

    def finish(self) -> dict[str, float]:
        """Train to the end of the configured run; its metrics (also ``scores[-1]``)."""
        start = time.perf_counter()
        model = self.run.advance(self.run.total)
        self.seconds += time.perf_counter() - start
        self._score(-1, model, self.seconds)
        return self.scores[-1]

    def _score(self, step: int, model: Any, seconds: float) -> None:
        metrics = eval_metrics(model, self.arrays, self.ties)
        self.scores[step] = {**metrics, "train_seconds": round(seconds, 2)}
        if self.keep:
            self.models[step] = copy.deepcopy(model)


def eval_metrics(
    model: Any, arrays: dict[str, np.ndarray], ties: str = "expected"
) -> dict[str, float]:
    """Metrics of a trained TwoTower or a fitted baseline's map on the eval pairs of
    ``arrays``, ties counted by the rule ``ties``."""
    from gentleclip.evaluation.gap import modality_gap
    from gentleclip.evaluation.retrieval import retrieval_metrics
    from gentleclip.evaluation.run import evaluate
    from gentleclip.models import TwoTower

    a, b, labels = arrays["eval_a"], arrays["eval_b"], arrays.get("eval_labels")
    if isinstance(model, TwoTower):
        return evaluate(model, a, b, labels, ties=ties)
    za, zb = model.encode("a", a), model.encode("b", b)
    metrics = retrieval_metrics(za, zb, labels, ties=ties)
    return {**metrics, "modality_gap": modality_gap(za, zb)}


def _baseline(name: str) -> Any:
    from gentleclip import baselines

    get = getattr(baselines, "get_baseline", None)
    if get is None:
        raise Unavailable("gentleclip.baselines has no get_baseline yet")
    try:
        return get(name)
    except (InputError, KeyError, ImportError) as err:
        raise Unavailable(f"baseline {name!r} not available: {err}") from err


def _fit_baseline(
    baseline: Any,
    params: dict[str, Any],
    arrays: dict[str, np.ndarray],
    seed: int,
    ties: str = "expected",
) -> tuple[dict[str, float], Any]:
    """Fit on the training arrays only (eval arrays withheld), score on the eval pairs; the
    metrics and the fitted map."""
    train_only = {k: v for k, v in arrays.items() if not k.startswith("eval_")}
    start = time.perf_counter()
    embedder = baseline.fit(RegimeData.from_arrays(train_only), params, seed=seed)
    metrics = eval_metrics(embedder, arrays, ties)
    return {**metrics, "train_seconds": round(time.perf_counter() - start, 3)}, embedder


# ---------------------------------------------------------------- one cell


# metrics of each candidate fitted on a split; None for a candidate pruned by the search.
# Called as score(candidates, arrays, models=None); a dict given as ``models`` receives the
# fitted model of each scored candidate under its index (``--no-refit``).
Scorer = Callable[..., list[dict[str, float] | None]]


def _fitter(
    cell: Cell, spec: Trained | Baseline, options: BenchOptions, key: str
) -> tuple[list[dict[str, Any]], Scorer]:
    """The method's candidates and a function fitting candidates on a split (their metrics)."""
    if isinstance(spec, Baseline):
        baseline = _baseline(spec.name)
        grid = spread(list(baseline.param_grid()), options.tune_budget)
        suite_params = datasets.entry(cell.suite).baseline_params
        grid = [{**params, **suite_params, **options.baseline_override} for params in grid]

        def fit_each(
            candidates: list[dict[str, Any]],
            arrays: dict[str, np.ndarray],
            models: dict[int, Any] | None = None,
        ) -> list:
            fits = [_fit_baseline(baseline, p, arrays, cell.seed, options.ties) for p in candidates]
            if models is not None:
                models.update((index, fit[1]) for index, fit in enumerate(fits))
            return [fit[0] for fit in fits]

        return grid, fit_each
    training_method = spec.overrides.get("method", spec.recipe)
    if not _training_method_available(training_method):
        raise Unavailable(f"training method {training_method!r} is not in this gentleclip")
    config = base_config(cell.suite, spec, options.steps, cell.seed, options.recipe_override)
    config = with_bags_per_step(config, spec, cell.regime)
    scorer = functools.partial(
        score_trained, config, search=options.search, key=key, ties=options.ties
    )
    return trained_candidates(config, options.tune_budget), scorer


def score_trained(
    config: dict[str, Any],
    candidates: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
    *,
    search: str = "full",
    key: str = FALLBACK_HEADLINE,
    models: dict[int, Any] | None = None,
    ties: str = "expected",
) -> list[dict[str, float] | None]:
    """Metrics of each candidate (dotted overrides of ``config``) trained on ``arrays``.

    Candidates that differ only in ``optim.steps`` share one run, scored at each step count.
    With ``search="halving"`` and several such runs, every run stops at the shortest step
    count of all candidates (the rung) and is scored there on ``key``; only the best run
    (the first of equals) goes on. Candidates of the other runs beyond the rung are pruned:
    their entry is None. A dict given as ``models`` receives a copy of each scored
    candidate's model under its index. ``ties`` is the metrics' tie rule.
    """
    keep = models is not None
    results: list[dict[str, float] | None] = [None] * len(candidates)
    plans: list[tuple[list[int], list[int], ScoredRun]] = []
    for indices in _run_groups(candidates):
        run_config = _with(config, candidates[indices[0]])
        if run_config["optim"].get("steps") is None:  # epoch-based: no sharing
            for index in indices:
                run = ScoredRun(_with(config, candidates[index]), arrays, keep=keep, ties=ties)
                results[index] = run.finish()
                if models is not None:
                    models[index] = run.models[-1]
            continue
        steps = [
            int(candidates[i].get("optim.steps", run_config["optim"]["steps"])) for i in indices
        ]
        run = ScoredRun(_longest(run_config, steps), arrays, keep=keep, ties=ties)
        plans.append((indices, steps, run))
    going_on = plans
    if search == "halving" and len(plans) > 1:
        rung = min(step for _, steps, _ in plans for step in steps)
        for _, steps, run in plans:
            run.advance([rung, *(step for step in steps if step < rung)])
        going_on = [max(plans, key=lambda plan: _headline(plan[2].scores[rung], key))]
    for _, steps, run in going_on:
        run.advance(steps)
    for indices, steps, run in plans:
        for index, step in zip(indices, steps, strict=True):
            results[index] = run.scores.get(step)
            if models is not None and step in run.models:
                models[index] = run.models[step]
    return results


def _run_groups(candidates: list[dict[str, Any]]) -> list[list[int]]:
    """Indices of candidates that differ only in ``optim.steps``, in candidate order."""
    groups: dict[str, list[int]] = {}
    for index, params in enumerate(candidates):
        rest = {k: v for k, v in params.items() if k != "optim.steps"}
        groups.setdefault(json.dumps(rest, sort_keys=True), []).append(index)
    return list(groups.values())


def _with(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with the dotted overrides ``params`` set."""
    out = copy.deepcopy(config)
    for dotted, value in params.items():
        set_dotted(out, dotted, value)
    return out


def _tune(
    candidates: list[dict[str, Any]],
    score: Scorer,
    val: dict[str, np.ndarray],
    key: str,
    models: dict[int, Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score every candidate on the validation split; return the best and all scores.

    A single candidate is not scored, unless ``models`` asks for the fitted models (a dict
    that receives each scored candidate's model under its index)."""
    if len(candidates) == 1 and models is None:
        return candidates[0], [{"params": candidates[0], "val": None}]
    metrics = score(candidates, val, models=models)
    scored = [  # train_seconds: of a shared run, up to this candidate's step count
        {"params": p, "val": _headline(m, key), "train_seconds": m.get("train_seconds")}
        if m is not None
        else {"params": p, "val": None, "pruned": True}
        for p, m in zip(candidates, metrics, strict=True)
    ]
    best = max((s for s in scored if s["val"] is not None), key=lambda s: s["val"])
    return best["params"], scored  # first of equals wins


def _method_splits(
    domain: DomainData, cell: Cell, test_size: int
) -> tuple[Trained | Baseline, CellData, dict[str, int]]:
    """The cell's method, its splits as the method sees them (each bag's mean rows appended
    to the pairs for the bag-mean methods) and the true pair counts of both splits; Skipped
    where the cell cannot run."""
    spec = METHODS[cell.method]
    if cell.pairs < spec.min_pairs:
        raise Skipped(f"{cell.method} needs at least {spec.min_pairs} matched pairs")
    data = cell_data(domain, cell, test_size, isinstance(spec, Trained) and spec.oracle)
    true_pairs = {"test": len(data.test["paired_a"]), "val": data.val_pairs}
    if spec.bag_means:
        data = _with_bag_means(data, cell.regime)
    if isinstance(spec, Trained) and not spec.sees_bags:
        data = replace(data, test=as_sets(data.test), val=as_sets(data.val))
    return spec, data, true_pairs


def as_sets(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` with the unpaired rows' bag ids dropped and each side's unpaired rows in a
    canonical order (lexicographic by value), so a bags split reads as disjoint data and the
    same items give the same arrays at every bag size; arrays without bag ids are returned
    as they are (a disjoint split keeps its row order)."""
    if not any(name.endswith("_bags") for name in arrays):
        return arrays
    out = {name: array for name, array in arrays.items() if not name.endswith("_bags")}
    for name in ("unpaired_a", "unpaired_b"):
        out[name] = rows_by_value(out[name])
    return out


def rows_by_value(rows: np.ndarray) -> np.ndarray:
    """The rows of a 2-D array in lexicographic order of their values (contiguous)."""
    return np.ascontiguousarray(rows[np.lexsort(rows.T[::-1])])


def tuned_result(
    domain: DomainData, cell: Cell, test_size: int, options: BenchOptions
) -> dict[str, Any]:
    """What :func:`evaluate_cell` computes for ``cell`` on ``domain`` (headline, metrics,
    chosen parameters, every candidate's validation score), without the stored results.
    Raises Skipped where the cell cannot run."""
    spec, data, _ = _method_splits(domain, cell, test_size)
    return _tuned_result(cell, spec, data, headline_key(cell.suite, domain), options)


def evaluate_cell(cell: Cell, options: BenchOptions) -> dict[str, Any]:
    """Tune on validation, fit the chosen candidate on the training part, score on test.

    A cell whose splits equal an earlier cell's (as the method sees them) gets that cell's
    result: the first such cell stores it under ``<out>/shared/``, keyed by a hash of the
    splits' arrays (:func:`splits_fingerprint`), and the others reuse it with ``shared_from``
    naming the regime that computed it. A method that ignores bag ids (``reads_bags`` False:
    pairs-only methods, closed-form baselines, the oracle) sees the same splits at every bag
    size (unpaired rows in any order, as they only enter label-free statistics, equal up to
    summation order); one that reads bags only where the bag ids and row order match too
    (e.g. proteins at 200 pairs, where the 6 unpaired rows form one bag at every bag size).
    A method trained on a bags split as on two sets (``sees_bags`` False: sclip) gets the
    same arrays at every bag size (:func:`as_sets`), so it is computed once per pair count.
    One that does not read the unpaired rows at all (:func:`reads_unpaired`) is keyed by its
    pairs and evaluation rows alone, so bags and disjoint sides with the same pairs share.
    Training is deterministic given the arrays, the method and the seed, so a shared result
    is the result the cell would compute.
    """
    entry = datasets.entry(cell.suite)
    domain = load_domain(cell.suite)
    key = headline_key(cell.suite, domain)
    spec, data, true_pairs = _method_splits(domain, cell, entry.setting.test_size)
    memo = shared_result_path(cell, spec, data, options, (domain, entry.setting.test_size))
    if memo.is_file():
        stored = json.loads(memo.read_text(encoding="utf-8"))
        return {**stored["result"], "shared_from": stored["regime"]}
    result = _tuned_result(cell, spec, data, key, options)
    result.update(
        test_size=entry.setting.test_size,
        val_size=data.val_size,
        val_pairs=true_pairs["val"],
        train_pairs=true_pairs["test" if options.refit else "val"],
    )
    if spec.bag_means:
        result["bag_mean_pairs"] = len(data.test["paired_a"]) - true_pairs["test"]
    write_json_atomic(memo, {"regime": cell.regime, "result": result})
    return result


def _with_bag_means(data: CellData, regime: str) -> CellData:
    """Both splits with each bag's mean rows appended to their pairs; Skipped without bags."""
    try:
        return replace(data, test=with_bag_means(data.test), val=with_bag_means(data.val))
    except InputError as err:
        raise Skipped(f"{err} (regime {regime})") from err


def _tuned_result(
    cell: Cell, spec: Trained | Baseline, data: CellData, key: str, options: BenchOptions
) -> dict[str, Any]:
    candidates, score = _fitter(cell, spec, options, key)
    try:
        if options.refit:
            params, scored = _tune(candidates, score, data.val, key)
            metrics = score([params], data.test)[0]  # one candidate: never pruned
        else:
            params, scored, metrics = _chosen_model_metrics(
                candidates, score, data, key, options.ties
            )
    except InputError as err:
        raise Skipped(str(err)) from err
    result = {
        "headline": key,
        "value": _headline(metrics, key),
        "metrics": metrics,
        "ties": options.ties,
        "params": params,
        "candidates": scored,
    }
    if isinstance(spec, Trained) and options.recipe_override:
        result["recipe_override"] = options.recipe_override
    if isinstance(spec, Baseline) and options.baseline_override:
        result["baseline_override"] = options.baseline_override
    return result


def _chosen_model_metrics(
    candidates: list[dict[str, Any]], score: Scorer, data: CellData, key: str, ties: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, float]]:
    """``--no-refit``: the validation search, then the chosen candidate's model from it (fit
    on the validation split's training rows) scored once on the test pairs. Its
    ``train_seconds`` are the search's for that candidate."""
    models: dict[int, Any] = {}
    params, scored = _tune(candidates, score, data.val, key, models)
    chosen = next(i for i, entry in enumerate(scored) if entry["params"] is params)
    metrics = eval_metrics(models[chosen], data.test, ties)
    return params, scored, {**metrics, "train_seconds": scored[chosen]["train_seconds"]}


def splits_fingerprint(
    data: CellData, *, reads_bags: bool = False, reads_unpaired: bool = True
) -> str:
    """SHA-256 of the test and validation splits as a method sees them.

    Every array counts in order (for pairs and eval rows, their order is their matching),
    except for a bag-agnostic method (``reads_bags`` False): its unpaired rows count as a set
    (sorted), since such methods only take label-free statistics over them, and bag ids are
    left out. For a method that never reads the unpaired rows (``reads_unpaired`` False,
    :func:`reads_unpaired`) they are left out altogether.
    """
    digest = hashlib.sha256()
    for part, arrays in (("test", data.test), ("val", data.val)):
        for name in sorted(arrays):
            if name.startswith("unpaired_") and not reads_unpaired:
                continue
            if name.endswith("_bags") and not reads_bags:
                continue
            array = np.ascontiguousarray(arrays[name])
            if name.startswith("unpaired_") and array.ndim == 2 and not reads_bags:
                array = rows_by_value(array)
            digest.update(f"{part}/{name}/{array.dtype}/{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


# fingerprints of the last few cells' splits, by what determines them: the cells of a job
# (4 closed-form maps x 3 bag sizes) hold the same splits, and on molecules sorting the
# unpaired rows for a fingerprint took 0.3 s a cell
_FINGERPRINTS: OrderedDict[tuple[object, ...], tuple[DomainData, str]] = OrderedDict()
FINGERPRINT_CACHE_SIZE = 8


def shared_result_path(
    cell: Cell,
    spec: Trained | Baseline,
    data: CellData,
    options: BenchOptions,
    drawn_from: tuple[DomainData, int],
) -> Path:
    """Where the method's result for these splits is stored (see evaluate_cell). The
    fingerprint is memoised on what fixes the splits as the method sees them
    (:func:`_method_splits`: each split is drawn from ``drawn_from``, the suite's data and
    test size, by the regime, the pair count and the seed alone)."""
    domain, test_size = drawn_from
    reads = reads_unpaired(cell, options.recipe_override)
    key = (
        id(domain),  # the entry holds the domain: its id names no other while it lives
        test_size,
        cell.suite,
        cell.regime,
        cell.pairs,
        cell.seed,
        isinstance(spec, Trained) and spec.oracle,
        spec.bag_means,
        isinstance(spec, Trained) and not spec.sees_bags,
        spec.reads_bags,
        reads,
    )
    if key not in _FINGERPRINTS:
        fingerprint = splits_fingerprint(data, reads_bags=spec.reads_bags, reads_unpaired=reads)
        _FINGERPRINTS[key] = (domain, fingerprint)
    _FINGERPRINTS.move_to_end(key)
    fingerprint = _FINGERPRINTS[key][1]
    while len(_FINGERPRINTS) > FINGERPRINT_CACHE_SIZE:
        _FINGERPRINTS.popitem(last=False)
    name = f"{cell.suite}-{cell.method}-seed{cell.seed}-{fingerprint[:20]}.json"
    return options.out / "shared" / name


def run_cell(job: tuple[Cell, BenchOptions]) -> dict[str, Any]:
    """One result row: ``status`` ok, skipped (with ``reason``) or unavailable."""
    cell, options = job
    start = time.perf_counter()
    row: dict[str, Any] = asdict(cell)
    try:
        row.update(evaluate_cell(cell, options))
        row["status"] = "ok"
    except Skipped as why:
        row.update(status="skipped", reason=str(why))
    except Unavailable as why:
        row.update(status="unavailable", reason=str(why))
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def run_cells(job: tuple[list[Cell], BenchOptions]) -> list[dict[str, Any]]:
    """:func:`run_cell` of each cell of one job, in order, in one process."""
    cells, options = job
    return [run_cell((cell, options)) for cell in cells]


def reads_unpaired(cell: Cell, recipe_override: dict[str, Any] | None = None) -> bool:
    """Whether ``cell``'s method reads the unpaired rows at all: a closed-form map takes
    label-free statistics over them and a bag-mean method pairs their means; a trained
    method reads them unless its run does not
    (:func:`gentleclip.training.module.reads_unpaired_rows`: clip on unstandardised inputs,
    as molecules' recipe trains it). One that does not has the same result in every regime
    with the same pairs, bags or disjoint sides."""
    from gentleclip.training.config import config_from_dict
    from gentleclip.training.module import reads_unpaired_rows

    spec = METHODS[cell.method]
    if isinstance(spec, Baseline) or spec.bag_means:
        return True
    try:
        config = config_from_dict(base_config(cell.suite, spec, None, cell.seed, recipe_override))
    except InputError:  # no such recipe or method here: the cell itself reports why
        return True
    return reads_unpaired_rows(config)


def job_groups(
    cells: Sequence[Cell], recipe_override: dict[str, Any] | None = None
) -> list[list[Cell]]:
    """``cells`` as jobs, in plan order: the cells whose result one bag size can compute for
    the others (:func:`evaluate_cell`) go together, every bag size in one job; every other
    trained cell alone.

    - The closed-form baselines of one (suite, regime kind, pairs, seed) form one job. At one
      bag size they fit on the same rows, so in one process each side's principal
      directions are computed once and found in the cache of
      :func:`gentleclip.baselines.base.principal_directions` after that (on molecules' wide
      fingerprints they are most of a closed-form cell), and the split's fingerprint once
      (:func:`shared_result_path`).
    - A trained method that does not read the bags (``reads_bags`` or ``sees_bags`` False:
      clip, sclip, the oracle) forms one job per (suite, method, regime kind, pairs, seed).
    - A trained method that does not read the unpaired rows at all (:func:`reads_unpaired`
      with ``recipe_override``) forms one job per (suite, method, pairs, seed): every regime,
      bags and disjoint sides alike, in one job.

    The other bag sizes then find the shared result instead of racing the first on another
    worker: the smallest bag size in plan order always computes it."""
    jobs: list[list[Cell]] = []
    grouped: dict[tuple[object, ...], list[Cell]] = {}
    reads: dict[tuple[str, str], bool] = {}  # by (suite, method): one recipe read each
    for cell in cells:
        if (cell.suite, cell.method) not in reads:
            reads[(cell.suite, cell.method)] = reads_unpaired(cell, recipe_override)
        key = _shared_job_key(cell, reads[(cell.suite, cell.method)])
        if key is None:
            jobs.append([cell])
            continue
        if key not in grouped:
            grouped[key] = []
            jobs.append(grouped[key])
        grouped[key].append(cell)
    return jobs


def _shared_job_key(cell: Cell, reads: bool = True) -> tuple[object, ...] | None:
    """The job a cell joins in :func:`job_groups`, or None for a job of its own; ``reads``:
    whether its method reads the unpaired rows (:func:`reads_unpaired`)."""
    spec = METHODS[cell.method]
    if not reads:
        return (cell.method, cell.suite, "every regime", cell.pairs, cell.seed)
    where = (cell.suite, parse_regime(cell.regime).kind, cell.pairs, cell.seed)
    if isinstance(spec, Baseline):
        return ("closed-form", *where)
    if not spec.reads_bags or not spec.sees_bags:
        return (cell.method, *where)
    return None


# ---------------------------------------------------------------- results file


ROW_KEYS = ("suite", "regime", "pairs", "seed", "method", "status")


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows of ``results.jsonl``; a torn last line (interrupted write) is ignored.

    Any other line that is not a JSON object with the row keys is an InputError naming the
    file and line: results cannot be resumed or reported from a damaged file.
    """
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # torn by an interrupted append
                continue
            raise InputError(f"{path}, line {number}: not a JSON row") from None
        if not isinstance(row, dict) or any(key not in row for key in ROW_KEYS):
            raise InputError(f"{path}, line {number}: not a result row (needs {ROW_KEYS})")
        rows.append(row)
    return rows


def append_result(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line in a single write, after repairing a torn last line."""
    text = json.dumps(row, sort_keys=True) + "\n"
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                text = "\n" + text
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _row_key(row: dict[str, Any]) -> tuple[str, str, int, int, str]:
    return (row["suite"], row["regime"], int(row["pairs"]), int(row["seed"]), row["method"])


def _check_settings(options: BenchOptions) -> None:
    """An out dir keeps one (tune_budget, steps, search, refit): resuming with others would
    mix results. Folders from before ``search`` existed were made with the full search, and
    those from before ``refit`` with the refit."""
    path = options.out / SETTINGS
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{path}: not the JSON settings a bench run writes") from None
        new = {**UNSET_SETTINGS, **options.settings()}
        if isinstance(old, dict):
            old = {**OLDER_SETTINGS, **UNSET_SETTINGS, **old}
        if old != new:
            raise InputError(_settings_conflict(options.out, old, new))
    else:
        write_json_atomic(path, options.settings())


def _settings_conflict(out: Path, old: object, new: dict[str, Any]) -> str:
    """Name each setting the folder's results were made with that this run changes, and the
    options that would resume it."""
    if not isinstance(old, dict) or set(old) != set(new):
        return f"{out} holds results made with {old}; use a new --out for {new}"
    changed = [key for key in new if old[key] != new[key]]
    made = ", ".join(_as_option(key, old[key]) for key in changed)
    asked = ", ".join(_as_option(key, new[key]) for key in changed)
    return (
        f"{out} holds results made with {made} (this run: {asked}); resume it with "
        f"{made}, or use a new --out"
    )


def _as_option(setting: str, value: object) -> str:
    """A ``bench.json`` setting as the bench option that gives it: ``--tune-budget 2``;
    ``no --steps`` for an unset one; ``--refit`` / ``--no-refit`` for a flag."""
    flag = "--" + setting.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if isinstance(value, dict):  # --recipe-override: the JSON the option takes
        return f"{flag} '{json.dumps(value, sort_keys=True)}'" if value else f"no {flag}"
    return f"no {flag}" if value is None else f"{flag} {value}"


# ---------------------------------------------------------------- running the grid


def _init_worker(flush: bool = False) -> None:
    import torch

    torch.set_num_threads(1)
    denormals.set_flush(flush)


# Read by OpenBLAS / MKL / OpenMP when a spawned worker first loads numpy or torch.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def one_blas_thread_per_child() -> Iterator[None]:
    """Processes started inside get one BLAS thread each (the environment is restored after).

    Workers share the cores: numpy's OpenBLAS would otherwise start a thread per core in every
    worker and spin-wait, which made closed-form cells 3-4x slower and stole time from the
    trained cells running beside them.
    """
    with speed.environment_for_children(dict.fromkeys(BLAS_THREAD_VARIABLES, "1")):
        yield


class _InProcess:
    """The grid in this process, on one torch thread (denormals flushed when ``flush``),
    with a pool's ``apply``/``imap``."""

    def __init__(self, flush: bool) -> None:
        self.flush = flush

    def apply(self, func: Callable[..., Any], args: tuple = ()) -> Any:
        with denormals.flushed(self.flush):
            return func(*args)

    def imap_unordered(self, func: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[Any]:
        with one_torch_thread(), denormals.flushed(self.flush):
            yield from map(func, jobs)


@contextlib.contextmanager
def _executor(workers: int, library: str | None, flush: bool = False) -> Iterator[Any]:
    """Where cells and the reference step run: this process, or ``workers`` spawned ones
    (one BLAS and one torch thread each, ``library`` preloaded as their allocator); denormals
    flushed to zero there when ``flush``."""
    if workers <= 1:
        yield _InProcess(flush)
        return
    with one_blas_thread_per_child(), malloc.preloaded_in_children(library):
        pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(flush,))
    with pool:
        yield pool


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Forecast:
    """The grid's remaining wall time, from the jobs finished so far.

    Cells cost very different times (a molecules gentle cell about 45 s, a skipped one or
    one that reuses a shared result nothing), so the time left is not the mean cell's time
    times the cells left. A job still to run costs, for each method it runs (its cells with
    enough pairs), what that method cost per finished job with a result so far: the sharing
    of results between bag sizes, pair counts or regimes is in that mean. A method not seen
    yet costs the mean over every method's such jobs; one reported unavailable, nothing.

    The jobs are then laid out as the worker pool runs them: in plan order, each taken by the
    first worker to come free. A job running now started when the job before it on its
    worker finished (the first ``workers`` at 0), so only what is left of its cost is still
    to come (nothing once it has run longer than that). The forecast is when the last worker
    comes free, so a grid's tail (one long job left on one worker) is not spread over the
    idle ones. Until a job has given a result, the forecast is the elapsed time per finished
    cell times the cells left.
    """

    def __init__(self, jobs: Sequence[Sequence[Cell]], workers: int) -> None:
        self.workers = max(1, workers)
        self.total = sum(len(job) for job in jobs)
        self.done = 0
        self._job_of = {cell.key: index for index, job in enumerate(jobs) for cell in job}
        self._left = {index: _methods_run(job) for index, job in enumerate(jobs)}
        self._started = dict.fromkeys(range(min(self.workers, len(jobs))), 0.0)
        self._next = len(self._started)  # the first job no worker has taken yet
        self._jobs_total = len(jobs)
        self._seconds: dict[str, float] = {}  # by method: its results' seconds
        self._jobs: dict[str, set[int]] = {}  # by method: the jobs that gave them
        self._unavailable: set[str] = set()  # methods this gentleclip cannot run: cost 0

    def add(self, row: dict[str, Any], elapsed: float) -> None:
        """Count a finished cell (a result row) that arrived ``elapsed`` seconds into the
        run. A job's rows arrive together, so its first row frees its worker for the next
        job (a job the model had not started yet, out of plan order, starts none, so the
        model never runs more jobs than workers). Only results (``ok`` rows, shared ones
        included) count towards a method's cost; a method reported unavailable costs 0."""
        self.done += 1
        job, method = self._job_of.get(_row_key(row), -1), row["method"]
        was_running = self._started.pop(job, None) is not None
        if self._left.pop(job, None) is not None and was_running:
            self._start_next(elapsed)
        if row["status"] == "unavailable":
            self._unavailable.add(method)
        if row["status"] != "ok":
            return
        self._seconds[method] = self._seconds.get(method, 0.0) + float(row["seconds"])
        self._jobs.setdefault(method, set()).add(job)

    def _start_next(self, elapsed: float) -> None:
        """The freed worker takes the first job in plan order not taken and not finished."""
        while self._next < self._jobs_total and self._next not in self._left:
            self._next += 1
        if self._next < self._jobs_total:
            self._started[self._next] = elapsed
            self._next += 1

    def seconds_left(self, elapsed: float) -> float:
        """Forecast wall seconds until every cell has finished."""
        if not self._jobs:
            return elapsed / max(self.done, 1) * (self.total - self.done)
        free = [elapsed] * (self.workers - len(self._started))
        for job, start in self._started.items():
            free.append(elapsed + max(0.0, self._job_cost(job) - (elapsed - start)))
        heapq.heapify(free)
        for job in sorted(j for j in self._left if j not in self._started):
            heapq.heappush(free, heapq.heappop(free) + self._job_cost(job))
        return max(free) - elapsed

    def _job_cost(self, job: int) -> float:
        """What the methods of a job left cost per finished job so far."""
        return sum(self._method_cost(m) for m in self._left.get(job, ()))

    def _method_cost(self, method: str) -> float:
        """A method's seconds per finished job with a result; the mean over all methods'
        jobs for one not seen yet; 0 for one reported unavailable."""
        if method in self._unavailable:
            return 0.0
        if method not in self._jobs:
            return sum(self._seconds.values()) / sum(map(len, self._jobs.values()))
        return self._seconds[method] / len(self._jobs[method])


def _methods_run(job: Sequence[Cell]) -> list[str]:
    """The methods a job runs (its cells with enough pairs), each once."""
    return list(dict.fromkeys(c.method for c in job if c.pairs >= METHODS[c.method].min_pairs))


def _progress(row: dict[str, Any], forecast: Forecast, elapsed: float) -> str:
    cell = Cell(row["suite"], row["regime"], row["pairs"], row["seed"], row["method"])
    if row["status"] == "ok":
        outcome = f"{row['headline']} {row['value']:.3f}"
    else:
        outcome = f"{row['status']}: {row['reason']}"
    done, total, eta = forecast.done, forecast.total, forecast.seconds_left(elapsed)
    return (
        f"[{done}/{total}] {cell.describe()}: {outcome} ({row['seconds']:.1f}s) "
        f"elapsed {_clock(elapsed)} ETA {_clock(eta)}"
    )


def _cells_to_run(cells: Sequence[Cell], options: BenchOptions) -> list[Cell]:
    """The cells not yet in ``<out>/results.jsonl``, after checking the options and the out
    dir (created, with its ``bench.json``, when new; refused when its settings differ)."""
    options.check()
    check_output_dir(options.out)
    options.out.mkdir(parents=True, exist_ok=True)
    _check_settings(options)
    done = read_results(options.out / RESULTS)
    _check_recipes(options.out, recipe_digests(cells), bool(done))
    done_keys = {_row_key(r) for r in done}
    return [c for c in cells if c.key not in done_keys]


def recipe_digests(cells: Sequence[Cell]) -> dict[str, str]:
    """SHA-256 of every recipe the trained cells start from (``SUITE-RECIPE``), of the
    overrides a trained method puts on top (``METHOD overrides``: recipe bag-nce's or
    pairs-as-items' settings, an ablation's weight) and of every suite's closed-form parameters
    (``SUITE baseline_params``), by name; a recipe or suite that does not exist is left to its
    cells."""
    specs = [(cell.suite, cell.method, METHODS.get(cell.method)) for cell in cells]
    trained = [(suite, method, s) for suite, method, s in specs if isinstance(s, Trained)]
    recipes = {f"{suite}-{spec.recipe}" for suite, _, spec in trained}
    suites = {suite for suite, _, spec in specs if isinstance(spec, Baseline)}
    configs: dict[str, Any] = {
        f"{method} overrides": _without_later_defaults(spec.overrides)
        for _, method, spec in trained
        if spec.overrides
    }
    for name in sorted(recipes):
        with contextlib.suppress(InputError):  # no such recipe: its cells say so
            configs[name] = _without_later_defaults(load_recipe(name).to_dict())
    for suite in sorted(suites):
        with contextlib.suppress(InputError):  # no such suite: its cells say so
            configs[f"{suite} baseline_params"] = datasets.entry(suite).baseline_params
    return {
        name: hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
        for name, config in configs.items()
    }


# config fields added after rows began to carry recipe digests, with their defaults: a recipe
# that leaves one at its default hashes as before the field existed, so adding a field changes
# no digest (and refuses no resume) of a recipe that does not set it
LATER_FIELDS: tuple[tuple[str, str, Any], ...] = (("loss", "bag_optional", False),)


def _without_later_defaults(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    for section, name, default in LATER_FIELDS:
        if out.get(section, {}).get(name, default) == default:
            out.get(section, {}).pop(name, None)
    return out


def cell_recipes(row: dict[str, Any]) -> dict[str, str]:
    """The digests (:func:`recipe_digests`) of what one row's cell starts from: its suite's
    recipe and its method's own overrides, or its suite's closed-form parameters. A row carries
    them, so a later change of a suite's defaults leaves old rows telling apart (the overrides
    given on the command line are in ``recipe_override`` / ``baseline_override``)."""
    cell = Cell(row["suite"], row["regime"], int(row["pairs"]), int(row["seed"]), row["method"])
    return recipe_digests([cell])


def _check_recipes(out: Path, digests: dict[str, str], has_rows: bool) -> None:
    """Refuse to resume ``out`` when a recipe its rows were made with has changed since; record
    the recipes of this run beside the folder's. A folder with rows but no record predates
    it: say its recipes cannot be checked (molecules' changed in session 7686c66)."""
    path = out / RECIPES
    if path.is_file():
        old = read_json_object(path, "bench recipe record")
        changed = sorted(name for name in digests if name in old and old[name] != digests[name])
        if changed:
            raise InputError(
                f"{out} holds rows made with another {', '.join(changed)} (changed since "
                "they were made); use a new --out"
            )
        digests = {**old, **digests}
    elif has_rows:
        print(
            f"warning: {out} predates {RECIPES}, so whether its rows were made with these "
            "recipes cannot be checked (molecules' recipes changed in session 7686c66)",
            file=sys.stderr,
        )
    write_json_atomic(path, dict(sorted(digests.items())))


def _reference(executor: Any, steps: int, log: Callable[[str], None]) -> float:
    """The reference step timed where the cells run (a worker, with the workers' allocator)."""
    ms = float(executor.apply(speed.reference_step_ms, (steps,)))
    log(f"reference step: {ms:.2f} ms ({speed.REFERENCE})")
    return ms


def _run_cells(
    executor: Any,
    todo: list[Cell],
    options: BenchOptions,
    log: Callable[[str], None],
    workers: int = 1,
) -> tuple[list[dict[str, Any]], float]:
    """Run ``todo``, appending each recorded row as it finishes: (new rows, wall seconds)."""
    path = options.out / RESULTS
    start, new = time.perf_counter(), []
    groups = job_groups(todo, options.recipe_override)
    forecast = Forecast(groups, workers)
    digests: dict[tuple[str, str], dict[str, str]] = {}  # by (suite, method): read once a run
    for rows in executor.imap_unordered(run_cells, [(group, options) for group in groups]):
        finished = time.perf_counter() - start  # a job's rows arrive together
        for row in rows:
            forecast.add(row, finished)
            if row["status"] != "unavailable":
                key = (row["suite"], row["method"])
                if key not in digests:
                    digests[key] = cell_recipes(row)
                row["recipes"] = dict(digests[key])
                append_result(path, row)
                new.append(row)
            log(_progress(row, forecast, finished))
    return new, time.perf_counter() - start


def run_bench(
    cells: Sequence[Cell],
    options: BenchOptions,
    *,
    workers: int = 1,
    reference_steps: int = 0,
    allocator: str = "auto",
    denormal_choice: str = "flush",
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run the cells not yet in ``results.jsonl``; append each row as it finishes.

    With ``reference_steps`` > 0 and cells to run, the reference step
    (:func:`~gentleclip.experiments.speed.reference_step_ms`) is timed in a worker before
    and after the grid and both go to ``timing.jsonl`` with the run's wall and worker time.
    ``allocator`` (:mod:`~gentleclip.experiments.malloc`) picks the workers' memory
    allocator and ``denormal_choice`` (:mod:`~gentleclip.experiments.denormals`) whether
    the cells flush denormal floats to zero; neither changed a result where compared
    (docs/results.md, "Runtime"). Returns the new rows
    (unavailable methods are reported but never recorded, so they run once they exist).
    """
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if reference_steps < 0:
        raise InputError(f"--reference-steps must be >= 0, got {reference_steps}")
    library = malloc.worker_library(allocator, workers)
    flush = denormals.denormal_flush(denormal_choice)
    speed.read_timing(options.out)  # a damaged timing.jsonl fails now, not after the grid
    todo = _cells_to_run(cells, options)
    path = options.out / RESULTS
    log(f"{len(cells) - len(todo)} of {len(cells)} cells already in {path}; running {len(todo)}")
    if not todo:
        return []
    log(malloc.describe(library, allocator, workers))
    log(denormals.describe(flush))
    with _executor(workers, library, flush) as executor:
        timed = reference_steps > 0
        before = _reference(executor, reference_steps, log) if timed else 0.0
        new, wall = _run_cells(executor, todo, options, log, workers)
        if timed and new:
            after = _reference(executor, reference_steps, log)
            record = speed.timing_record(
                before_ms=before,
                after_ms=after,
                wall_seconds=wall,
                rows=new,
                workers=workers,
                allocator="system" if library is None else "tcmalloc",
                denormals=denormal_choice,
            )
            speed.append_timing(options.out, record)
    return new


# ---------------------------------------------------------------- report


STD_NOTE = "population std, ddof=0"


@dataclass(frozen=True)
class Summary:
    """Mean, std and count of a method's headline over seeds in one (regime, pairs) row.

    ``std`` is numpy's default, the population standard deviation (ddof=0); ``STD_NOTE``
    says so in every rendered table.
    """

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """The mean, population std and count of ``values``."""
        return cls(float(np.mean(values)), float(np.std(values)), len(values))


def summarise(rows: Iterable[dict[str, Any]]) -> dict[tuple, dict[str, Summary | str]]:
    """(suite, regime, pairs) -> method -> Summary of ok rows, or the skip reason."""
    values: dict[tuple, dict[str, list[float]]] = {}
    reasons: dict[tuple, dict[str, str]] = {}
    for row in rows:
        where = (row["suite"], row["regime"], int(row["pairs"]))
        if row["status"] == "ok":
            values.setdefault(where, {}).setdefault(row["method"], []).append(row["value"])
        elif row["status"] == "skipped":
            reasons.setdefault(where, {})[row["method"]] = row["reason"]
    out: dict[tuple, dict[str, Summary | str]] = {}
    for where in sorted(set(values) | set(reasons), key=_where_order):
        cells: dict[str, Summary | str] = dict(reasons.get(where, {}))
        for method, vals in values.get(where, {}).items():
            cells[method] = Summary.of(vals)
        out[where] = cells
    return out


def _where_order(where: tuple) -> tuple:
    suite, regime, pairs = where
    return (suite, parse_regime(regime).order, pairs)


def _methods_in(table: dict[tuple, dict[str, Summary | str]]) -> list[str]:
    present = {m for cells in table.values() for m in cells}
    return [m for m in METHODS if m in present]


def _markdown_row(where: tuple, cells: dict[str, Summary | str], methods: list[str]) -> str:
    scores = [c.mean for c in cells.values() if isinstance(c, Summary)]
    best = max(scores) if scores else math.nan
    most = max((c.n for c in cells.values() if isinstance(c, Summary)), default=0)
    out = [where[1], str(where[2])]
    for method in methods:
        cell = cells.get(method)
        if cell is None:
            out.append("-")
        elif isinstance(cell, str):
            out.append("skip")
        else:
            text = _mean_std(cell) + (f" (n={cell.n})" if cell.n < most else "")
            out.append(f"**{text}**" if cell.mean == best else text)
    return "| " + " | ".join(out) + " |"


def _mean_std(s: Summary) -> str:
    """``mean ± std``, or the mean alone for a single seed (whose spread is unknown, not 0)."""
    return f"{s.mean:.3f} ± {s.std:.3f}" if s.n > 1 else f"{s.mean:.3f}"


def _skip_lines(sub: dict[tuple, dict[str, Summary | str]], methods: list[str]) -> list[str]:
    """ "Skipped:" and one line per reason, naming the methods it skipped (table order)."""
    by_reason: dict[str, set[str]] = {}
    for cells in sub.values():
        for method, cell in cells.items():
            if isinstance(cell, str):  # "clip needs ..." -> "needs ...", shared by methods
                by_reason.setdefault(cell.removeprefix(f"{method} "), set()).add(method)
    lines = [f"- {', '.join(m for m in methods if m in s)}: {why}" for why, s in by_reason.items()]
    return ["", "Skipped:", *sorted(lines)] if lines else []


def render_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One table per suite: rows (regime, pairs), columns methods, best mean in bold."""
    table = summarise(rows)
    headline = {r["suite"]: r["headline"] for r in rows if r["status"] == "ok"}
    parts = ["# Benchmark results", ""]
    for suite in dict.fromkeys(where[0] for where in table):
        sub = {w: c for w, c in table.items() if w[0] == suite}
        methods = _methods_in(sub)
        metric = headline.get(suite, "-")
        legend = f"Test {metric}: mean ± std over seeds ({STD_NOTE}); best in bold."
        parts += [f"## {suite}", "", legend, ""]
        parts.append("| regime | pairs | " + " | ".join(methods) + " |")
        parts.append("|---|---:|" + "---:|" * len(methods))
        parts += [_markdown_row(w, c, methods) for w, c in sub.items()]
        parts += _skip_lines(sub, methods)
        parts.append("")
    found = _verdicts_of(table)
    if found:
        parts += ["## Gentle against the best baseline", "", _verdict_table(found)]
    return "\n".join(parts)


# the baselines: the ``compare`` group less gentle and the oracle
COMPARE_BASELINES = tuple(m for m in METHOD_GROUPS["compare"] if m not in ("gentle", "oracle"))
# what a user could pick instead of gentle, which the verdicts compare it with: everything but
# gentle, its ablations, the oracle and the disjoint-data candidates; the reference methods
# and the bag-mean baselines count where they ran (gentleclip.baselines.BASELINES is another
# list: the closed-form maps)
RIVALS = (
    *COMPARE_BASELINES,
    *REFERENCE,
    *BAG_MEANS,
)


@dataclass(frozen=True)
class Verdict:
    """Gentle against the best baseline in one (suite, regime, pairs) row."""

    where: tuple[str, str, int]
    gentle: Summary
    best: str | None  # the baseline with the highest mean (None: no baseline could run)
    baseline: Summary | None
    clip: Summary | None
    ran: tuple[str, ...] = ()  # the baselines with results in this row

    @property
    def margin(self) -> float:
        return math.nan if self.baseline is None else self.gentle.mean - self.baseline.mean

    @property
    def noise(self) -> float:
        """The larger of the two seed standard deviations."""
        return math.nan if self.baseline is None else max(self.gentle.std, self.baseline.std)

    @property
    def outcome(self) -> str:
        """win / lose when the gap exceeds ``noise``, else tie; "only gentle" without baselines;
        "ahead" / "behind" (no verdict) while either side has a single seed."""
        if self.baseline is None:
            return "only gentle"
        if min(self.gentle.n, self.baseline.n) < 2:
            return "ahead (1 seed)" if self.margin > 0 else "behind (1 seed)"
        if abs(self.margin) <= self.noise:
            return "tie"
        return "win" if self.margin > 0 else "lose"


def verdicts(rows: Iterable[dict[str, Any]], baselines: Sequence[str] = RIVALS) -> list[Verdict]:
    """One :class:`Verdict` per (suite, regime, pairs) row where gentle has results, against
    the best of ``baselines`` that ran there."""
    return _verdicts_of(summarise(rows), baselines)


def _verdicts_of(
    table: dict[tuple, dict[str, Summary | str]], baselines: Sequence[str] = RIVALS
) -> list[Verdict]:
    out = []
    for where, cells in table.items():
        gentle = cells.get("gentle")
        if not isinstance(gentle, Summary):
            continue
        ran = {m: c for m, c in cells.items() if m in baselines and isinstance(c, Summary)}
        best = max(ran, key=lambda m: ran[m].mean) if ran else None
        clip = ran.get("clip")
        found = Verdict(where, gentle, best, ran.get(best) if best else None, clip, tuple(ran))
        out.append(found)
    return out


def _verdict_row(v: Verdict) -> str:
    suite, regime, pairs = v.where
    cols = [suite, regime, str(pairs), _mean_std(v.gentle)]
    if v.baseline is None:
        cols += ["-", "-", "-", v.outcome, str(v.gentle.n)]
    else:
        cols += [
            f"{v.best} {_mean_std(v.baseline)}",
            f"{v.margin:+.3f}",
            f"{v.gentle.mean / v.clip.mean:.2f}x" if v.clip and v.clip.mean > 0 else "-",
            v.outcome,
            f"{v.gentle.n} / {v.baseline.n}",
        ]
    return "| " + " | ".join(cols) + " |"


def render_verdicts(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: gentle vs the best baseline per row, the margin, and win / tie / lose."""
    return _verdict_table(verdicts(rows))


def _verdict_table(found: list[Verdict]) -> str:
    lines = [
        "| suite | regime | pairs | gentle | best baseline | margin | gentle / clip | outcome "
        "| seeds |",
        "|---|---|---:|---:|---|---:|---:|---|---|",
    ]
    lines += [_verdict_row(v) for v in found]
    ran = {m for v in found for m in v.ran}
    named = [m for m in RIVALS if m not in (*REFERENCE, *BAG_MEANS) or m in ran]
    note = (
        "Outcome: win / lose when the gap exceeds the larger seed standard deviation "
        f"({STD_NOTE}), else tie. "
        f"Baselines: {', '.join(named)}. Seeds: gentle / best baseline."
    )
    return "\n".join([*lines, "", note, ""])


def _safe(text: str) -> str:
    return text.replace(":", "")


def _series(
    table: dict[tuple, dict[str, Summary | str]], method: str, points: Iterable[tuple[Any, tuple]]
) -> tuple[list[float], list[float], list[float]]:
    xs, ys, es = [], [], []
    for x, where in points:
        cell = table.get(where, {}).get(method)
        if isinstance(cell, Summary):
            xs.append(x)
            ys.append(cell.mean)
            es.append(cell.std)
    return xs, ys, es


# Each method's colour, an index into matplotlib's tab20, fixed here so that adding a method
# never recolours the published plots (these are the colours they were drawn with). The
# learned-temperature variants take their method's colour, dotted with square markers.
COLOURS: dict[str, int] = {
    name: index
    for index, name in enumerate(
        (
            *("gentle", "clip", "sclip", "ridge", "procrustes", "cca", "relrep"),
            *("cca-sklearn", "sclip-legacy", "sclip-detached", "sclip-negatives", "sclip-code"),
            "oracle",
            *ABLATIONS,
            *DISJOINT,
        )
    )
}
LEARNED = {"sclip-learned": "sclip", "clip-learned": "clip"}


def _style(method: str) -> dict[str, Any]:
    """The method's fixed colour (:data:`COLOURS`); ablations dashed and hollow, the
    learned-temperature variants dotted with squares, the bag-mean baselines in their base
    method's colour, dash-dotted with triangles, gentle-items black with stars (dashed with the
    bag-level InfoNCE), gentle on the pairs alone in gentle's colour, dotted with diamonds; grey
    for a method without a colour."""
    colors = matplotlib.colormaps["tab20"].colors
    base = method.removesuffix("-bagmeans") if method in WITH_BAG_MEANS else method
    index = COLOURS.get(LEARNED.get(base, base))
    color = colors[index % len(colors)] if index is not None else "0.5"
    style: dict[str, Any] = {"color": color, "marker": "o"}
    if method in ABLATIONS:
        style.update(linestyle="--", markerfacecolor="none")
    if method in LEARNED:
        style.update(linestyle=":", marker="s")
    if method in WITH_BAG_MEANS:
        style.update(linestyle="-.", marker="^")
    if method == "gentle-pairs-alone":  # gentle's colour (tab20 has none left), diamonds
        style.update(color=colors[COLOURS["gentle"]], linestyle=":", marker="D")
    if method in PAIRS_AS_ITEMS:  # tab20 has no colour left that no method wears
        style.update(color="black", marker="*")
        if method == "gentle-bagnce-items":
            style.update(linestyle="--")
    return style


def _line_plot(
    table: dict[tuple, dict[str, Summary | str]],
    points: list[tuple[Any, tuple]],
    path: Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    xscale: dict[str, Any],
) -> Path:
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.subplots()
    for method in _methods_in({w: table[w] for _, w in points if w in table}):
        xs, ys, es = _series(table, method, points)
        if xs:
            ax.errorbar(xs, ys, yerr=es, capsize=3, label=method, **_style(method))
    ax.set_xscale(**xscale)
    ticks = sorted({x for x, _ in points})
    ax.set_xticks(ticks, [str(x) for x in ticks])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    return path


def write_plots(
    rows: Sequence[dict[str, Any]], out: Path, plot_pairs: int | None = None
) -> list[Path]:
    """Per suite: headline vs pairs for every regime, and vs bag size at ``plot_pairs``."""
    table = summarise(rows)
    written = []
    for suite in dict.fromkeys(w[0] for w in table):
        metric = next((r["headline"] for r in rows if r["suite"] == suite and "headline" in r), "")
        if not metric:  # every cell of the suite was skipped: nothing to draw
            continue
        wheres = [w for w in table if w[0] == suite]
        for regime in dict.fromkeys(w[1] for w in wheres):
            points = [(w[2], w) for w in wheres if w[1] == regime]
            if not any(isinstance(c, Summary) for _, w in points for c in table[w].values()):
                continue  # every method skipped (e.g. no natural groups): nothing to draw
            path = out / f"{suite}-pairs-{_safe(regime)}.png"
            title = f"{suite}, {regime}: test {metric} vs pairs"
            symlog = {"value": "symlog", "linthresh": 10}
            written.append(
                _line_plot(
                    table, points, path, xlabel="pairs", ylabel=metric, title=title, xscale=symlog
                )
            )
        written += _bag_plot(table, wheres, suite, metric, out, plot_pairs)
    return written


def _bag_plot(
    table: dict[tuple, dict[str, Summary | str]],
    wheres: list[tuple],
    suite: str,
    metric: str,
    out: Path,
    plot_pairs: int | None,
) -> list[Path]:
    bags = [w for w in wheres if parse_regime(w[1]).kind == "bags"]
    pairs_seen = sorted({w[2] for w in bags})
    if not pairs_seen:
        return []
    if plot_pairs not in pairs_seen:
        plot_pairs = 20 if 20 in pairs_seen else pairs_seen[len(pairs_seen) // 2]
    points = [(parse_regime(w[1]).bag_size, w) for w in bags if w[2] == plot_pairs]
    if not any(isinstance(c, Summary) for _, w in points for c in table[w].values()):
        return []  # every method skipped at that pair count (e.g. more pairs than items)
    path = out / f"{suite}-bagsize-pairs{plot_pairs}.png"
    title = f"{suite}, {plot_pairs} pairs: test {metric} vs bag size"
    log2 = {"value": "log", "base": 2}
    labels = {"xlabel": "bag size", "ylabel": metric, "title": title}
    return [_line_plot(table, points, path, xscale=log2, **labels)]


def settings_line(out: Path) -> str:
    """The options ``out/bench.json`` records, as bench options ("" when it is missing or
    unreadable): a report says whether its grid was refit, with which search and budget."""
    try:
        settings = json.loads((out / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not isinstance(settings, dict):
        return ""
    settings = {**OLDER_SETTINGS, **settings}
    order = list(BenchOptions(out=out).settings())  # the options' order, not bench.json's
    keys = sorted(settings, key=lambda k: order.index(k) if k in order else len(order))
    options = ", ".join(_as_option(key, settings[key]) for key in keys)
    return f"Made with {options} (`{SETTINGS}`)."


def write_report(out: Path, plot_pairs: int | None = None) -> tuple[str, list[Path]]:
    """``results.md`` and the PNG plots from everything in ``out/results.jsonl``."""
    rows = read_results(out / RESULTS)
    if not rows:
        raise InputError(f"no results in {out / RESULTS}")
    text = render_markdown(rows)
    made_with = settings_line(out)
    if made_with:
        text += "\n".join(["", "## Settings", "", made_with, ""])
    timing = speed.timing_lines(out)
    if timing:
        text += "\n".join(["", "## Timing", "", *timing, ""])
    with atomic_path(out / REPORT, ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text, write_plots(rows, out, plot_pairs)
