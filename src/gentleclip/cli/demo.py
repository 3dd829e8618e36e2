"""`gentleclip demo [--dataset NAME] [--json PATH] [--out DIR]`: gentle vs clip, offline."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from gentleclip.cli.options import seed_arg
from gentleclip.data.io import check_output_file
from gentleclip.errors import InputError
from gentleclip.evaluation.report import write_json_atomic
from gentleclip.experiments.datasets import DATASETS, build, entry
from gentleclip.experiments.demo import render, run_demo
from gentleclip.recipes import load_recipe
from gentleclip.training.finetune import enable_encoder_training


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="gentle vs clip on a shipped dataset, offline")
    p.add_argument("--dataset", default="mfeat", choices=sorted(DATASETS))
    p.add_argument("--json", default=None, help="also write the result JSON here")
    p.add_argument("--out", default=None, help="work directory (default runs/demo-NAME-TIME)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--pairs", type=int, default=None, help="training pairs (default per dataset)")
    p.add_argument("--bag-size", type=int, default=None, help="fixed bags (no natural bags)")
    p.add_argument(
        "--train-encoder",
        action="store_true",
        help="put the pretrained encoders in the towers and fine-tune them "
        "(recipes NAME-finetune-*; emoji only)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setting = replace(entry(args.dataset).setting, seed=args.seed)
    if args.pairs is not None:
        setting = replace(setting, pairs=args.pairs)
    if args.bag_size is not None:
        setting = replace(setting, bag_size=args.bag_size, natural_bags=False)
    if setting.pairs < 2:
        raise InputError(
            f"--pairs {setting.pairs}: the demo compares gentle with clip, which needs at "
            "least 2 pairs"
        )
    if args.json:
        check_output_file(args.json, "--json")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or f"runs/demo-{args.dataset}-{stamp}")
    domain = build(args.dataset, raw=args.train_encoder)  # names the problem before any work
    configs = None
    if args.train_encoder:
        configs = {m: load_recipe(f"{args.dataset}-finetune-{m}") for m in ("gentle", "clip")}
        for config in configs.values():
            enable_encoder_training(config)
    result = run_demo(domain, out, setting, configs)
    print(render(result))
    print(f"details: {out}/demo.json, plot: {out}/demo.png")
    if args.json:
        write_json_atomic(args.json, result)
    return 0
