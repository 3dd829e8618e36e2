"""`gentleclip demo [--json PATH] [--out DIR]`: gentle vs clip on embedded UCI data."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gentleclip.evaluation.report import write_json_atomic
from gentleclip.experiments.demo import DemoSetting, render, run_demo


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="gentle vs clip on UCI Multiple Features, offline")
    p.add_argument("--json", default=None, help="also write the result JSON here")
    p.add_argument("--out", default=None, help="work directory (default runs/demo-<time>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--bag-size", type=int, default=8)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    setting = DemoSetting(seed=args.seed, pairs=args.pairs, bag_size=args.bag_size)
    result = run_demo(out, setting)
    print(render(result))
    print(f"details: {out}/demo.json, plot: {out}/demo.png")
    if args.json:
        write_json_atomic(args.json, result)
    return 0
