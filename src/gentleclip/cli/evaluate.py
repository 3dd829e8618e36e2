"""`gentleclip eval RUN --data DIR [--json PATH] [--ties expected|optimistic]`: retrieval
metrics on held-out pairs."""

from __future__ import annotations

import argparse
from pathlib import Path

from gentleclip.data.io import check_output_file
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.evaluation.report import format_table, write_json_atomic
from gentleclip.evaluation.retrieval import TIE_RULES
from gentleclip.evaluation.run import evaluate, load_model


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate a run on a directory's eval_* pairs")
    p.add_argument("run", help="run directory written by `gentleclip train` or `gentleclip fit`")
    p.add_argument("--data", required=True, help="dataset directory with eval_a/eval_b")
    p.add_argument("--json", default=None, help="write the flat metrics JSON here")
    p.add_argument("--figure", default=None, help="embedding PNG (default RUN/embeddings.png)")
    p.add_argument(
        "--ties",
        choices=TIE_RULES,
        default="expected",
        help="gallery items exactly as similar as the one that counts: expected (default: "
        "their expectation under random tie-breaking) or optimistic (a tie counts as a hit)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    figure = args.figure or Path(args.run) / "embeddings.png"
    check_output_file(figure, "--figure")
    if args.json:
        check_output_file(args.json, "--json")
    model = load_model(Path(args.run) / "model")
    data = load_dataset_dir(args.data, require_train=False, require_eval=True)
    metrics = evaluate(
        model, data.eval_a, data.eval_b, data.eval_labels, figure=figure, ties=args.ties
    )
    print(format_table({Path(args.run).name or "run": metrics}))
    print(f"embedding figure: {figure}")
    if args.json:
        write_json_atomic(args.json, metrics)
    return 0
