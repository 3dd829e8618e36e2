"""`gentleclip train --auto`: the setting the benchmark measured best for a dataset's regime.

The rule reads only what a dataset directory says about itself: its regime (pairs only, bags,
disjoint sides), whether it has pairs, how many bags, and the bag size nearest the measured
ones (8, 32 or 128 rows, :func:`~gentleclip.data.regimes.nearest_measured_bag_size`):

==========================  ===========  ============================================
regime                      pairs        setting (:data:`PICKS`)
==========================  ===========  ============================================
pairs only                  8 or more    a closed-form map (``fit --method auto --tune``)
pairs only                  1 to 7       the recipe as given (too few pairs to fold)
disjoint sides              0            refused: nothing ties an A row to a B row
disjoint sides              8 or more    a closed-form map (``fit --method auto --tune``)
disjoint sides              1 to 7       the recipe on the pairs alone (unpaired rows left out)
bags (2 or more), any size  0            recipe ``bag-nce``
bags of about 8             1 or more    recipes ``bag-nce`` and ``pairs-as-items``
bags of about 32            1 or more    the recipe as given
bags of about 128           1 or more    steps that hold the largest bag whole
a single bag                any          the recipe where the pick needs the bag term
==========================  ===========  ============================================

In each class the pick is the setting whose wins against the recipe on the benchmark's
**validation** pairs exceed its losses by most (5 seeds a cell; win or lose when the gap in
mean exceeds the larger std); ``benchmarks/auto_recipe.py`` scores every setting, and
--auto's own picks on the bench's splits, on the validation and the test pairs
(docs/bench/auto.md; docs/results.md, "Choosing a setting: train --auto"), and
:data:`EVIDENCE` quotes each pick's record on the test pairs. The closed-form map is what
``gentleclip fit DIR --method auto --tune --folds K`` fits (K up to 5 folds of 4 pairs or more:
:func:`~gentleclip.baselines.tuning.default_folds`); ``train --auto`` then trains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gentleclip.baselines.tuning import MIN_VALIDATION_PAIRS, default_folds
from gentleclip.data.regimes import Regime, RegimeData, nearest_measured_bag_size
from gentleclip.data.sampler import largest_bag
from gentleclip.errors import InputError
from gentleclip.recipes import BAG_NCE_BAGS_PER_STEP, recipe_overrides
from gentleclip.training.config import TrainConfig

# The settings every suite's CLIP recipe shares (recipes/*-clip.yaml, tuned on mfeat:
# docs/tuning.md): no dropout, learning rate 1e-3, 1,200 steps.
CLIP_SETTINGS: dict[str, Any] = {
    "model": {"head_dropout": 0.0},
    "optim": {"lr": 0.001, "steps": 1200},
}

# What the setting picked in each class of data (:func:`data_class`) scored against the recipe
# on the benchmark's test pairs, 5 seeds a cell (tests/test_auto_report.py holds every count to
# docs/bench/auto.md, which benchmarks/auto_recipe.py makes from the rows).
EVIDENCE = {
    "bags of 8, no pairs": "2 wins, 2 ties, 0 losses in 4 cells against the recipe",
    "bags of 8, pairs": "14 wins, 5 ties, 0 losses in 19 cells against the recipe",
    "bags of 32, no pairs": "3 wins, 0 ties, 1 loss in 4 cells against the recipe",
    "bags of 128, no pairs": "3 wins, 1 tie, 0 losses in 4 cells against the recipe",
    "bags of 128, pairs": "15 wins, 3 ties, 0 losses in 18 cells against the recipe",
    "disjoint, pairs": "15 wins, 5 ties, 0 losses in 20 cells against the recipe",
    "pairs only": "9 wins, 7 ties, 4 losses in 20 cells against the recipe",
}
# Where a class's pick is FIT but the pairs make fewer than 2 folds of 4: the setting with the
# next best record there, and its record on the test pairs
FALLBACKS: dict[str, tuple[str, str]] = {
    "disjoint, pairs": (
        "pairs alone",
        "the recipe on the pairs alone: 12 wins, 7 ties, 0 losses in 19 cells against the recipe",
    ),
}
PAIRS_ONLY = "pairs only"  # the class of data with no unpaired rows (regime pairs)
RECIPE = "the recipe as given"
WHOLE_BAGS, CLIP, PAIRS_ALONE = "whole-bag steps", "clip", "pairs alone"
FIT = "closed-form map"  # gentleclip fit --method auto --tune, in place of training
# The setting --auto trains in each class of data (:func:`data_class`): shipped recipes put on
# top in order, or WHOLE_BAGS / CLIP / PAIRS_ALONE (the recipe with sampler.use_unpaired
# false) / FIT (no training: the map fit --method auto --tune fits, where the pairs allow a
# holdout); a class not here keeps the recipe. Each is the setting whose wins against the recipe
# on the validation pairs exceed its losses by most in docs/bench/auto.md
# (tests/test_auto_report.py holds every pick to it).
PICKS: dict[str, tuple[str, ...] | str] = {
    "bags of 8, no pairs": ("bag-nce",),
    "bags of 8, pairs": ("bag-nce", "pairs-as-items"),
    "bags of 32, no pairs": ("bag-nce",),
    "bags of 128, no pairs": ("bag-nce",),
    "bags of 128, pairs": WHOLE_BAGS,
    "disjoint, pairs": FIT,
    PAIRS_ONLY: FIT,
}
_PAIRS_ALONE = {"sampler": {"use_unpaired": False}}
# The self-supervised term at loss.w_ssl SSL_MEASURED on top of a class's pick, against the
# pick alone: (pairs, verdict, test class P@1 with the term against without it), molecules only
# (5 seeds, the full search; docs/results.md, "0.05 over the whole grid";
# tests/test_published_tables.py holds each to its rows). Verdicts by the tables' rule.
SSL_MEASURED = 0.05
SSL_ON_PICKS: dict[str, tuple[tuple[int, str, str], ...]] = {
    "bags of 8, no pairs": ((0, "worse", "0.548 ± 0.021 against 0.584 ± 0.018"),),
    "bags of 8, pairs": ((20, "the same", "0.572 ± 0.020 against 0.580 ± 0.023"),),
    "bags of 32, no pairs": ((0, "better", "0.400 ± 0.036 against 0.343 ± 0.033"),),
    "bags of 128, no pairs": ((0, "better", "0.269 ± 0.017 against 0.231 ± 0.034"),),
    "bags of 128, pairs": (
        (20, "the same", "0.331 ± 0.035 against 0.321 ± 0.040"),
        (50, "better", "0.394 ± 0.022 against 0.350 ± 0.034"),
    ),
}
_NOTHING_TIES = (
    "--auto: disjoint sides and no pairs: nothing ties an A row to a B row, so no setting "
    "aligns the two sides (every method sat at chance in the benchmark); add matched pairs "
    "(paired_a / paired_b) or bag ids (unpaired_a_bags / unpaired_b_bags)"
)


def data_class(bag_size: int | None, n_pairs: int) -> str:
    """The class of data a choice is made for, as :data:`EVIDENCE` and the report name it:
    ``bags of K`` (K the nearest measured bag size) or ``disjoint``, then ``no pairs`` or
    ``pairs``."""
    kind = "disjoint" if bag_size is None else f"bags of {bag_size}"
    return f"{kind}, {'no pairs' if n_pairs == 0 else 'pairs'}"


@dataclass(frozen=True)
class AutoChoice:
    """What ``--auto`` puts on top of the recipe, and the line that says why."""

    label: str  # e.g. "bags of 8, 20 pairs"
    setting: str  # e.g. "--bag-nce --pairs-as-items"
    evidence: str
    recipes: tuple[str, ...] = ()  # shipped recipes applied in order (recipes.recipe_overrides)
    method: str | None = None  # the method to switch to (None keeps the recipe's)
    min_unpaired_per_step: int = 0  # > 0: a step holds at least this many unpaired rows
    bags_per_step: int = 0  # > 0: room for this many whole bags a step (the bag term's rule)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    fit: bool = False  # true: fit a closed-form map (fit --method auto --tune), train nothing
    folds: int = 0  # the cross-validation folds that choose the closed-form map (with fit)
    data_class: str = ""  # the class of data it was picked for (data_class() or PAIRS_ONLY)

    def line(self) -> str:
        """One line for the user: the regime, the setting and what it was measured to buy."""
        return f"auto: {self.label} -> {self.setting} (benchmark: {self.evidence})"


def choose(data: RegimeData) -> AutoChoice:
    """The setting for ``data``: :data:`PICKS` of its class, the recipe for a class not there.

    Raises:
        InputError: disjoint sides with no pairs, where no setting aligns anything.
    """
    pairs = f"{data.n_pairs} pair" + ("" if data.n_pairs == 1 else "s")
    if data.regime is Regime.PAIRS:
        return _picked(data, f"pairs only, {pairs}", PAIRS_ONLY)
    if data.regime is Regime.UNPAIRED:
        if data.n_pairs == 0:
            raise InputError(_NOTHING_TIES)
        return _picked(data, f"disjoint sides, {pairs}", data_class(None, data.n_pairs))
    size = nearest_measured_bag_size(data.median_bag_rows)
    name = data_class(size, data.n_pairs)
    label = f"{data.n_bags} bags of about {size} rows, {pairs}"
    if data.n_bags < 2 and isinstance(PICKS.get(name), tuple):
        return AutoChoice(label, RECIPE, "one bag: the bag term needs two", data_class=name)
    return _picked(data, label, name)


def ssl_note(choice: AutoChoice, w_ssl: float) -> str | None:
    """One line on what the self-supervised term the config keeps on (``w_ssl`` > 0) was
    measured to do on top of ``choice`` (:data:`SSL_ON_PICKS`); None with the term off, a
    closed-form pick (nothing trained) or a pick the term was not measured on."""
    measured = SSL_ON_PICKS.get(choice.data_class)
    if w_ssl <= 0 or choice.fit or choice.setting == RECIPE or not measured:
        return None
    weight = f"loss.w_ssl {w_ssl:g}" + (
        "" if w_ssl == SSL_MEASURED else f", measured at {SSL_MEASURED:g}"
    )
    found = "; ".join(
        f"{verdict} at {n} pairs, {quote} without it" for n, verdict, quote in measured
    )
    line = (
        f"auto: the self-supervised term ({weight}) on top of this pick, on molecules' test "
        f"class P@1 over 5 seeds: {found}"
    )
    if any(verdict == "worse" for _, verdict, _ in measured):
        line += "; set loss.w_ssl: 0 to train the pick alone"
    return line


def _picked(data: RegimeData, label: str, name: str) -> AutoChoice:
    """The pick of class ``name`` for ``data``, labelled ``label``, with its class."""
    return replace(_pick(data, label, name), data_class=name)


def _pick(data: RegimeData, label: str, name: str) -> AutoChoice:
    pick = PICKS.get(name, ())
    evidence = EVIDENCE.get(name, "no setting beat it, docs/bench/auto.md")
    if pick == CLIP:
        setting = "--method clip (no dropout, lr 1e-3, 1,200 steps)"
        return AutoChoice(label, setting, evidence, method="clip", overrides=CLIP_SETTINGS)
    if pick == WHOLE_BAGS:
        return _whole_bags(data, label, evidence)
    if pick == PAIRS_ALONE:
        return _pairs_alone(label, evidence)
    if pick == FIT:
        folds = default_folds(data, bag_means=False)  # what fit --tune takes here
        if not folds:
            return _too_few_to_fold(label, name)
        setting = (
            f"a closed-form map, as gentleclip fit --method auto --tune --folds {folds} fits it"
        )
        return AutoChoice(label, setting, evidence, fit=True, folds=folds)
    if not pick:
        return AutoChoice(label, RECIPE, evidence)
    setting = " ".join("--" + recipe for recipe in pick)
    return AutoChoice(label, setting, evidence, tuple(pick), bags_per_step=BAG_NCE_BAGS_PER_STEP)


def _too_few_to_fold(label: str, name: str) -> AutoChoice:
    """Below 2 folds of 4 pairs no closed-form map can be chosen: the class's fallback
    (:data:`FALLBACKS`), else the recipe."""
    fewest = 2 * MIN_VALIDATION_PAIRS
    why = f"a closed-form map is chosen by cross-validation, which needs {fewest} pairs"
    if name not in FALLBACKS:
        return AutoChoice(label, RECIPE, why)
    pick, evidence = FALLBACKS[name]
    assert pick == PAIRS_ALONE
    return _pairs_alone(label, f"{why}; {evidence}")


def _pairs_alone(label: str, evidence: str) -> AutoChoice:
    """The recipe with the unpaired rows left out (``sampler.use_unpaired`` false)."""
    setting = "the recipe on the pairs alone (the unpaired rows left out)"
    return AutoChoice(label, setting, evidence, overrides=_PAIRS_ALONE)


def _whole_bags(data: RegimeData, label: str, evidence: str) -> AutoChoice:
    assert data.bags_a is not None and data.bags_b is not None
    largest = largest_bag(data.bags_a, data.bags_b)
    setting = f"steps that hold the largest bag whole (--unpaired-per-step {largest})"
    return AutoChoice(label, setting, evidence, min_unpaired_per_step=largest)


def apply(choice: AutoChoice, config: TrainConfig) -> TrainConfig:
    """``config`` with ``choice``'s recipes, method and step size put on top (in place).
    Raises InputError for a choice that trains nothing (``fit``)."""
    if choice.fit:
        raise InputError("--auto picked a closed-form map here: fit it, there is nothing to train")
    if config.method != "gentle":
        raise InputError(f"--auto starts from a gentle recipe, not method {config.method}")
    for name in choice.recipes:
        put_recipe(config, name)
    _set(config, choice.overrides, ("model", "optim", "sampler"))
    if choice.method is not None:
        config.method = choice.method
        _no_encoder_dropout(config)
    rows = config.sampler.unpaired_per_step
    config.sampler.unpaired_per_step = max(rows, choice.min_unpaired_per_step)
    return config


def put_recipe(config: TrainConfig, name: str) -> None:
    """Every loss and sampler setting of shipped recipe ``name`` on ``config``, as the recipe
    file writes them (the bench's gentle-bagnce and gentle-items read the same files)."""
    _set(config, recipe_overrides(name), ("loss", "sampler"))


def _set(config: TrainConfig, settings: dict[str, Any], sections: tuple[str, ...]) -> None:
    for section in sections:
        for name, value in settings.get(section, {}).items():
            setattr(getattr(config, section), name, value)


def _no_encoder_dropout(config: TrainConfig) -> None:
    """No dropout inside mlp encoders either, as the suites' CLIP recipes set it."""
    model = config.model
    for encoder, kwargs in (
        (model.encoder_a, model.encoder_a_kwargs),
        (model.encoder_b, model.encoder_b_kwargs),
    ):
        if encoder == "mlp":
            kwargs["dropout"] = 0.0
