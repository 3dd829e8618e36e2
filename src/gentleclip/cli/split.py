"""`gentleclip split FULL.npz --out DIR --pairs N --regime {bags,unpaired,pairs}`."""

from __future__ import annotations

import argparse

from gentleclip.cli.options import seed_arg
from gentleclip.data.regimes import load_full_npz
from gentleclip.data.split import SPLIT_REGIMES, split_full, write_dataset_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("split", help="turn a fully paired .npz into a regime directory")
    p.add_argument("full", help=".npz with arrays a, b (row i paired) and optional labels")
    p.add_argument("--out", required=True, help="output dataset directory (must not exist)")
    p.add_argument("--pairs", type=int, required=True, help="training pairs to keep")
    p.add_argument(
        "--regime",
        required=True,
        choices=SPLIT_REGIMES,
        help="unpaired rows as bags, as disjoint sides, or none (pairs: the pairs alone)",
    )
    p.add_argument("--bag-size", type=int, default=8)
    p.add_argument("--test-size", type=int, default=400)
    p.add_argument("--seed", type=seed_arg, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    a, b, labels = load_full_npz(args.full)
    arrays = split_full(
        a,
        b,
        labels,
        pairs=args.pairs,
        regime=args.regime,
        bag_size=args.bag_size,
        test_size=args.test_size,
        seed=args.seed,
    )
    settings = {
        "n": len(a),
        "pairs": args.pairs,
        "regime": args.regime,
        "bag_size": args.bag_size,
        "test_size": args.test_size,
        "seed": args.seed,
    }
    write_dataset_dir(arrays, args.out, settings=settings)
    counts = ", ".join(f"{k} {len(v)}" for k, v in sorted(arrays.items()) if not k.endswith("bags"))
    print(f"wrote {args.out}: {counts}")
    return 0
