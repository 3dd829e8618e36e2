"""`gentleclip fit DIR --method {ridge,procrustes,cca,relrep,cca-sklearn} --out RUN`.

Fits a closed-form baseline on the matched pairs of the same dataset directory that
``gentleclip train`` reads (the unpaired rows only enter its label-free standardisation and
PCA; with ``--bag-means`` each bag's mean A row and mean B row are one more pair) and saves
it as ``RUN/model/`` (safetensors + JSON config) with ``RUN/fit.json``; then
``gentleclip eval``, ``embed``, ``index`` and ``search`` take RUN as they take a trained run.
``--tune`` chooses the parameters on the directory alone (:mod:`gentleclip.baselines.tuning`),
by cross-validation (up to 5 folds of 4 validation pairs or more; ``--holdout SHARE``: one share
held out instead).
A directory whose ``split.json`` names a shipped dataset gets the parameters the bench sets on
that dataset's maps (molecules: ``scale=false``), under ``--param``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gentleclip.baselines import BASELINES, get_baseline
from gentleclip.baselines.base import check_params
from gentleclip.baselines.saved import save_embedder
from gentleclip.baselines.tuning import (
    AUTO_METHODS,
    MIN_VALIDATION_PAIRS,
    MOST_FOLDS,
    SCORE,
    check_share,
    default_folds,
    tune_methods,
)
from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.data.split import SETTINGS_FILE
from gentleclip.errors import InputError
from gentleclip.evaluation.report import write_json_atomic
from gentleclip.training.config import read_yaml

# --tune's candidates (train --auto's closed-form pick uses it too), and the share --tune held
# out before it cross-validated (session 2af79bb's reports; --holdout 0.2 gives it)
BUDGET, HOLDOUT = 4, 0.2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fit", help="fit a closed-form baseline on a dataset directory")
    p.add_argument("data", help="dataset directory (paired_*, unpaired_*, bags, eval_*)")
    p.add_argument(
        "--method",
        required=True,
        choices=(*BASELINES, "auto"),
        help="the baseline to fit; auto (with --tune): the best of "
        f"{', '.join(AUTO_METHODS)} on the held-out validation pairs",
    )
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument(
        "--bag-means",
        action="store_true",
        help="also fit on each bag's mean A row and mean B row as a pair (needs bag files; "
        "exact under a linear map between the sides)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyper-parameter (repeatable), e.g. components=32, alpha=0.1, top_k=null; with "
        "--tune, one its candidates leave alone, fixed on each (e.g. scale=false)",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="choose the parameters on this directory alone: score the bench's candidates by "
        "a->b R@1 on held-out pairs (and, with --bag-means, held-out bags, whose means become "
        "validation pairs) by cross-validation, then fit the best on everything",
    )
    p.add_argument(
        "--budget", type=int, default=BUDGET, help=f"candidates --tune scores (default {BUDGET})"
    )
    p.add_argument(
        "--folds",
        type=_folds_arg,
        default=None,
        help="--tune's cross-validation folds, each of 4 validation pairs or more (default: as "
        f"many as the pairs, and with --bag-means the bags, allow, up to {MOST_FOLDS})",
    )
    p.add_argument(
        "--holdout",
        type=float,
        default=None,
        metavar="SHARE",
        help="--tune on one held-out share of the pairs (and bags) instead of folds, e.g. "
        f"{HOLDOUT} (--tune's way before it cross-validated)",
    )
    p.set_defaults(func=run)


def _folds_arg(text: str) -> int:
    """``--folds K``: an integer of at least 2."""
    try:
        folds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of folds, got {text!r}") from None
    if folds < 2:
        raise argparse.ArgumentTypeError(
            f"cross-validation needs at least 2 folds, got {folds} (one share held out: --holdout)"
        )
    return folds


def parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as a dict, each value read as a YAML scalar (``null``, ``32``,
    ``1e-3``, ``true``)."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r}: expected NAME=VALUE, e.g. components=32")
        value = read_yaml(text) if text.strip() else None
        if isinstance(value, dict | list):
            raise InputError(f"--param {item!r}: the value must be a single number, word or null")
        params[name.strip()] = value
    return params


def _check_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot run, before any work."""
    if args.method == "auto" and not args.tune:
        raise InputError("--method auto chooses on held-out data: add --tune")
    if args.budget < 1:
        raise InputError(f"--budget must be >= 1, got {args.budget}")
    for flag, value in (("--folds", args.folds), ("--holdout", args.holdout)):
        if value is not None and not args.tune:
            raise InputError(f"{flag} says how --tune chooses: add --tune")
    if args.folds is not None and args.holdout is not None:
        raise InputError("--folds and --holdout are two ways to hold pairs out: give one")
    if args.holdout is not None:
        check_share(args.holdout)
    if (Path(args.out) / "model").exists():
        raise InputError(f"{Path(args.out) / 'model'} already exists; choose a new --out")


def run(args: argparse.Namespace) -> int:
    """Fit, save and print one line naming the method, the pairs and the run folder."""
    _check_options(args)
    # a bad --param is named before the data are read
    given = {**dataset_params(args.data), **parse_params(args.param)}
    if args.tune:
        _check_fixed(_tuned_names(args), given)
    fixed = None if args.tune else _checked(args.method, given)
    out = Path(args.out)
    data = load_dataset_dir(args.data)
    method, params, tuned = _choose(args, data, fixed, given)
    baseline = get_baseline(method)
    true_pairs = data.n_pairs
    if args.bag_means:
        data = data_with_bag_means(data)
    added = data.n_pairs - true_pairs
    start = time.perf_counter()
    embedder = baseline.fit(data, params)
    seconds = round(time.perf_counter() - start, 3)
    save_embedder(embedder, out / "model", method=method, params=params)
    summary = {
        "method": method,
        "params": params,
        "data": str(Path(args.data).resolve()),
        "pairs": true_pairs,
        "bag_mean_pairs": added,
        "dim": embedder.dim,
        "seconds": seconds,
    }
    if tuned is not None:
        summary["tuned"] = tuned
    write_json_atomic(out / "fit.json", summary)
    means = f" + {added} bag means" if args.bag_means else ""
    print(f"fitted {method} on {true_pairs} pairs{means} in {seconds} s -> {out}")
    return 0


def _checked(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``method``'s parameters, its defaults filled in."""
    baseline = get_baseline(method)
    return check_params(params, baseline.defaults, method, baseline.kinds)


def _tuned_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The baselines ``--tune`` scores."""
    return AUTO_METHODS if args.method == "auto" else (args.method,)


def _check_fixed(names: tuple[str, ...], given: dict[str, Any]) -> None:
    """With ``--tune``, ``--param`` fixes a parameter on every candidate: it must be one every
    tuned baseline has and its candidates leave alone (such as ``scale``)."""
    for name in names:
        baseline = get_baseline(name)
        searched = sorted({key for params in baseline.param_grid() for key in params} & set(given))
        if searched:
            raise InputError(
                f"--param {searched[0]}: --tune chooses it for {name}; with --tune fix only "
                "parameters its candidates leave alone, such as scale"
            )
        check_params(given, baseline.defaults, name, baseline.kinds)


def dataset_params(data_dir: str) -> dict[str, Any]:
    """The parameters the bench sets on the closed-form maps of the shipped dataset that
    ``DIR/split.json`` names (printed when there are any); {} for other directories."""
    from gentleclip.experiments.datasets import DATASETS

    try:
        settings = json.loads((Path(data_dir) / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    name = settings.get("dataset") if isinstance(settings, dict) else None
    params = dict(DATASETS[name].baseline_params) if name in DATASETS else {}
    if params:
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
        note = "--param overrides it"
        print(f"{name} data: {shown}, as the bench fits this dataset's maps ({note})")
    return params


def _choose(
    args: argparse.Namespace,
    data: Any,
    fixed: dict[str, Any] | None,
    given: dict[str, Any],
) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The method, its checked parameters and the ``--tune`` record (None without
    ``--tune``, when the parameters are ``fixed``: ``--param`` and the defaults). ``--tune``
    sets ``given`` (the dataset's parameters and ``--param``) on every candidate."""
    if not args.tune:
        assert fixed is not None  # --method auto needs --tune
        return args.method, fixed, None
    folds = _folds(args, data)
    method, params, scored, split = tune_methods(
        _tuned_names(args),
        data,
        budget=args.budget,
        share=HOLDOUT if args.holdout is None else args.holdout,
        bag_means=args.bag_means,
        fixed=given,
        folds=folds,
    )
    return method, _checked(method, params), _tune_record(params, scored, split)


def _folds(args: argparse.Namespace, data: Any) -> int:
    """The folds ``--tune`` uses: ``--folds``, none with ``--holdout``, else as many as the
    pairs (and, with ``--bag-means``, the bags) allow; InputError where they make fewer than 2
    folds of 4 validation pairs (no share of so few makes 4 validation pairs either)."""
    if args.holdout is not None:
        return 0
    if args.folds is not None:
        return args.folds
    folds = default_folds(data, bag_means=args.bag_means)
    if not folds:
        what = "pairs and bags" if args.bag_means else "pairs (add --bag-means if you have bags)"
        raise InputError(
            f"--tune: the {what} make fewer than 2 folds of {MIN_VALIDATION_PAIRS} validation "
            f"pairs ({data.n_pairs} pairs); --holdout SHARE holds out one larger share instead"
        )
    return folds


def _tune_record(params: dict[str, Any], scored: list[dict[str, Any]], split: Any) -> dict:
    """Print each candidate's validation score; the record for fit.json."""
    n_val = len(split.val_a)
    if split.folds > 1:
        means = f" and {split.held_bags} bags' means" if split.held_bags else ""
        print(
            f"tuning by {split.folds}-fold cross-validation on {split.held_pairs} pairs{means} "
            "(each held out once), mean a->b R@1:"
        )
    else:
        print(
            f"tuning on {n_val} validation pairs ({split.held_pairs} held-out pairs, "
            f"{split.held_bags} held-out bags' means), a->b R@1:"
        )
    for entry in scored:
        print(f"  {entry['val']:.3f}  {entry['method']} {entry['params']}")
    return {
        "params": params,
        "candidates": scored,
        "validation_pairs": n_val,
        "held_out_pairs": split.held_pairs,
        "held_out_bags": split.held_bags,
        "folds": split.folds,
        "score": SCORE,
    }
