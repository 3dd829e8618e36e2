"""The demo: gentle vs clip on one dataset, offline, same split and towers for both.

Default (the main job): UCI Multiple Features, ``pix`` -> ``fou``, 400 held-out test pairs,
20 training pairs, the remaining 1,580 items cut into fixed bags of 8. Other datasets
(``emoji``, ``proteins``, ``molecules``) come from :mod:`gentleclip.experiments.datasets` after
``gentleclip data install NAME``; they use natural bags where the data has them.

With bags the demo also fits the rival a user with bags should try first (docs/results.md,
"Baselines that use the bags too"): ridge on the pairs plus each bag's mean rows
(``ridge-bagmeans``). Its penalty is the one the bench's validation search picks for the
same split (the same 4 candidates and validation split as in the bench), and it is fitted on
the training data gentle sees.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gentleclip.data.datasets.domain import DomainData
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.data.split import split_full, test_rows, write_dataset_dir
from gentleclip.evaluation.report import format_table, plot_metric_bars, write_json_atomic
from gentleclip.evaluation.run import embed, evaluate
from gentleclip.evaluation.zeroshot import as_unit, zero_shot_metrics
from gentleclip.models import TwoTower
from gentleclip.models.featurizers import create_featurizer, featurize
from gentleclip.recipes import load_recipe
from gentleclip.training.config import TrainConfig
from gentleclip.training.fit import train

SHOWN = (
    "a_to_b_class_P@1",
    "b_to_a_class_P@1",
    "a_to_b_R@1",
    "a_to_b_R@10",
    "b_to_a_R@10",
    "a_to_b_median_rank",
    "b_to_a_median_rank",
    "modality_gap",
)


@dataclass(frozen=True)
class DemoSetting:
    """The split the demo trains on and the metric it headlines."""

    dataset: str = "mfeat"
    test_size: int = 400
    pairs: int = 20
    regime: str = "bags"
    bag_size: int = 8
    natural_bags: bool = True  # use the dataset's natural groups as bags when it has them
    seed: int = 0
    headline: str = "a_to_b_class_P@1"


def prepare_split(domain: DomainData, setting: DemoSetting, out: Path) -> Path:
    """Write the demo's dataset directory under ``out`` and return it."""
    groups = domain.groups if setting.natural_bags else None
    arrays = split_full(
        domain.a,
        domain.b,
        domain.primary_labels,
        pairs=setting.pairs,
        regime=setting.regime,
        bag_size=setting.bag_size,
        test_size=setting.test_size,
        seed=setting.seed,
        groups=groups,
    )
    bags = "natural" if groups is not None else "fixed"
    settings = {**asdict(setting), "n": len(domain.a), "bags": bags}
    write_dataset_dir(arrays, out / "data", settings=settings)
    return out / "data"


def train_and_eval(data_dir: Path, run_dir: Path, config: TrainConfig) -> tuple[TwoTower, dict]:
    summary = train(data_dir, run_dir, config)
    data = load_dataset_dir(data_dir, require_eval=True)
    model = TwoTower.from_pretrained(run_dir / "model")
    metrics = evaluate(
        model,
        data.eval_a,
        data.eval_b,
        data.eval_labels,
        figure=run_dir / "embeddings.png",
        title=f"{config.method}: held-out pairs",
    )
    metrics["train_seconds"] = summary["seconds"]
    return model, metrics


BAG_MEAN_BASELINE = "ridge-bagmeans"


def _bench_regime(domain: DomainData, setting: DemoSetting) -> str:
    """The bench's name for the demo's regime."""
    if setting.regime != "bags":
        return setting.regime
    natural = setting.natural_bags and domain.groups is not None
    return "natural" if natural else f"bags:{setting.bag_size}"


def bag_mean_baseline(
    domain: DomainData, setting: DemoSetting
) -> tuple[dict[str, float], dict[str, Any]] | None:
    """Ridge on the pairs plus each bag's mean rows, as the bench tunes, fits and scores it
    on the demo's split (its test split is the demo's: a test holds it): its test metrics
    and parameters (None without bags)."""
    from gentleclip.experiments import bench

    if setting.regime != "bags":
        return None
    regime = _bench_regime(domain, setting)
    cell = bench.Cell(setting.dataset, regime, setting.pairs, setting.seed, BAG_MEAN_BASELINE)
    result = bench.tuned_result(domain, cell, setting.test_size, bench.BenchOptions(out=Path()))
    return result["metrics"], result["params"]


def zero_shot(model: TwoTower, domain: DomainData, test: np.ndarray) -> dict[str, float]:
    """Nearest-prompt classification of the non-text side's test items, per label set."""
    if domain.text_side is None or domain.text_featurizer is None:
        return {}
    text, other = domain.text_side, "b" if domain.text_side == "a" else "a"
    items = (domain.a if other == "a" else domain.b)[test]
    query = embed(model, other, items)
    featurizer = create_featurizer(domain.text_featurizer)
    metrics: dict[str, float] = {}
    for label_set in domain.label_sets:
        if not label_set.prompts:
            continue
        prompt_features = featurize(featurizer, label_set.prompts, progress=False)
        prompts = as_unit(embed(model, text, prompt_features))
        labels = label_set.labels[test]
        prefix = f"zeroshot_{label_set.name}"
        metrics.update(zero_shot_metrics(query, prompts, labels, prefix=prefix))
    return metrics


def run_demo(
    domain: DomainData,
    out: Path,
    setting: DemoSetting = DemoSetting(),
    configs: dict[str, TrainConfig] | None = None,
) -> dict[str, Any]:
    """Split, train gentle and clip, evaluate both (and ridge on the bag means, with bags and
    the recipes' features); write demo.json and demo.png into ``out``."""
    features = configs is None  # fine-tuning recipes read raw items a linear map cannot take
    configs = configs or {m: load_recipe(f"{setting.dataset}-{m}") for m in ("gentle", "clip")}
    start = time.perf_counter()
    data_dir = prepare_split(domain, setting, out)
    test = test_rows(len(domain.a), test_size=setting.test_size, seed=setting.seed)
    result: dict[str, Any] = {"setting": {**asdict(setting), "n": len(domain.a)}}
    result["setting"].update(source=domain.source, licence=domain.licence, sides=domain.side_names)
    for method, config in configs.items():
        config.seed = setting.seed
        model, metrics = train_and_eval(data_dir, out / method, config)
        result[method] = {**metrics, **zero_shot(model, domain, test)}
    rival = bag_mean_baseline(domain, setting) if features else None
    if rival is not None:
        result[BAG_MEAN_BASELINE], result["setting"]["ridge_bagmeans_params"] = rival
    result["setting"]["seconds"] = round(time.perf_counter() - start, 1)
    write_json_atomic(out / "demo.json", result)
    keys = [k for k in shown_keys(result) if "rank" not in k and "gap" not in k]
    sides = "->".join(domain.side_names)
    title = f"{setting.dataset} {sides}: {setting.pairs} pairs"
    plot_metric_bars({m: result[m] for m in methods(result)}, keys, out / "demo.png", title=title)
    return result


def methods(result: dict[str, Any]) -> list[str]:
    """The methods a demo result holds, in the order they are shown."""
    return [m for m in ("gentle", "clip", BAG_MEAN_BASELINE) if m in result]


def shown_keys(result: dict[str, Any]) -> list[str]:
    extra = sorted(k for k in result["gentle"] if k.startswith("zeroshot_"))
    return [k for k in (*SHOWN, *extra) if k in result["gentle"]]


def render(result: dict[str, Any]) -> str:
    """Side-by-side table of the methods plus the headline ratios."""
    table = format_table({m: result[m] for m in methods(result)}, keys=shown_keys(result))
    key = result["setting"]["headline"]
    gentle, clip = result["gentle"][key], result["clip"][key]
    line = f"headline: {key} gentle {gentle:.3f} vs clip {clip:.3f} ({_ratio(gentle, clip)})"
    if BAG_MEAN_BASELINE in result:
        rival = result[BAG_MEAN_BASELINE][key]
        line += f", vs ridge on the pairs + bag means {rival:.3f} ({_ratio(gentle, rival)})"
    return f"{table}\n{line}"


def _ratio(top: float, bottom: float) -> str:
    return f"{top / bottom:.2f}x" if bottom > 0 else "inf x"
