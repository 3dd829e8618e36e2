"""`gentleclip embed RUN --side {a,b} --input X.npy --output Y.npy`."""

from __future__ import annotations

import argparse
from pathlib import Path

from gentleclip.data.io import load_array, save_array_atomic
from gentleclip.evaluation.run import embed, load_model


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "embed", help="embed one side's features with a trained or fitted model"
    )
    p.add_argument("run", help="run directory written by `gentleclip train` or `gentleclip fit`")
    p.add_argument("--side", required=True, choices=("a", "b"))
    p.add_argument("--input", required=True, help=".npy of shape (N, features)")
    p.add_argument("--output", required=True, help=".npy to write (N, embed_dim)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_model(Path(args.run) / "model")
    x = load_array(args.input)
    z = embed(model, args.side, x)
    save_array_atomic(args.output, z.numpy())
    print(f"wrote {args.output}: {tuple(z.shape)}")
    return 0
