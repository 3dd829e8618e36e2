"""Frozen vs fine-tuned pretrained encoders on emoji (image <-> name), gentle and clip.

Four runs on the demo's split (400 test pairs, 20 training pairs, natural subcategory bags):
recipes ``emoji-finetune-{gentle,clip}`` with the encoders frozen (only the LayerNorm adapter
and the projection head train) and with ``--train-encoder`` (last 4 EfficientNet-Lite0
blocks + head conv, last 2 MiniLM layers at ``optim.encoder_lr``). Same split, steps and
seed for the frozen and fine-tuned runs of a method. Writes ``OUT/finetune.json``, a table
``OUT/finetune.md`` and a bar plot ``OUT/finetune.png``.

    python benchmarks/finetune.py --out docs/bench   # needs `gentleclip data install emoji`
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gentleclip.data.split import test_rows
from gentleclip.evaluation.report import (
    atomic_path,
    format_table,
    plot_metric_bars,
    write_json_atomic,
)
from gentleclip.experiments.datasets import build, entry
from gentleclip.experiments.demo import prepare_split, train_and_eval, zero_shot
from gentleclip.recipes import load_recipe
from gentleclip.training.finetune import enable_encoder_training

KEYS = (
    "a_to_b_class_P@1",
    "b_to_a_class_P@1",
    "a_to_b_R@10",
    "zeroshot_category_top1",
    "zeroshot_subcategory_top1",
    "train_seconds",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/bench")
    parser.add_argument("--work", default="runs/finetune")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="scale recipe steps")
    args = parser.parse_args(argv)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    setting = entry("emoji").setting
    domain = build("emoji", raw=True)
    data_dir = prepare_split(domain, setting, work)
    test = test_rows(len(domain.a), test_size=setting.test_size, seed=setting.seed)
    results: dict[str, dict[str, float]] = {}
    for method in ("gentle", "clip"):
        for mode in ("frozen", "finetuned"):
            config = load_recipe(f"emoji-finetune-{method}")
            config.optim.steps = max(1, round(config.optim.steps * args.steps_scale))
            config.trainer.progress = False
            if mode == "finetuned":
                enable_encoder_training(config)
            start = time.perf_counter()
            model, metrics = train_and_eval(data_dir, work / f"{method}-{mode}", config)
            metrics.update(zero_shot(model, domain, test))
            metrics["total_seconds"] = round(time.perf_counter() - start, 1)
            results[f"{method}-{mode}"] = metrics
            print(f"{method}-{mode}: " + json.dumps({k: metrics.get(k) for k in KEYS}), flush=True)
    write_json_atomic(out / "finetune.json", results)
    table = format_table(results, keys=[k for k in KEYS if k in results["gentle-frozen"]])
    with atomic_path(out / "finetune.md", ".md") as tmp:
        tmp.write_text(f"```\n{table}\n```\n", encoding="utf-8")
    plot_metric_bars(
        results, list(KEYS[:5]), out / "finetune.png", title="emoji: frozen vs fine-tuned"
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
