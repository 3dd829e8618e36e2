"""`gentleclip search INDEX --query Q.npy [--k 10] [--out results.npz|.csv]`.

Queries are embedded with the tower of the side opposite to the indexed one (or
``--query-side``) of the run recorded in the index, or taken as embeddings with
``--embedded``. Results are written atomically; a one-line summary reports the speed.

An ivf query whose ``--nprobe`` probed cells hold fewer than ``--k`` rows gets fewer hits:
the missing ones are never shown or written as results (``.csv`` and the printed results
leave them out; ``.npz`` marks them index -1, score NaN, see its ``counts``), and a one-line
warning on stderr says how many queries came up short.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from gentleclip.data.io import check_output_file, load_array
from gentleclip.errors import InputError
from gentleclip.evaluation.index import (
    VectorIndex,
    hit_counts,
    import_faiss,
    load_index,
    model_fingerprint,
)
from gentleclip.evaluation.run import Model, embed, input_dim, load_model

OUT_SUFFIXES = (".npz", ".csv")
SHOWN_QUERIES = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("search", help="top-k search of a `gentleclip index` directory")
    p.add_argument("index", help="index directory written by `gentleclip index`")
    p.add_argument("--query", required=True, help=".npy of query rows (features or embeddings)")
    p.add_argument("--query-side", choices=("a", "b"), default=None, help="default: other side")
    p.add_argument("--embedded", action="store_true", help="--query already holds embeddings")
    p.add_argument("--run", default=None, help="run directory (default: the one in index.json)")
    p.add_argument(
        "--k",
        type=int,
        default=10,
        help="results per query (default 10); an ivf query whose probed cells hold fewer "
        "rows gets fewer, with a warning",
    )
    p.add_argument("--nprobe", type=int, default=None, help="ivf cells to visit")
    p.add_argument(
        "--out",
        default=None,
        help="write results to .csv (query,rank,index,score[,id]: one row per real hit) or "
        ".npz (scores, indices[, ids] of shape (queries, k), counts of real hits per query; "
        "slots past a query's count hold index -1, score NaN)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import_faiss()
    out = _check_out(args.out)
    if args.k < 1:
        raise InputError(f"--k must be >= 1, got {args.k}")
    vindex = load_index(args.index)
    queries, embed_seconds = _queries(args, vindex)
    start = time.perf_counter()
    scores, indices = vindex.search(queries, args.k, nprobe=args.nprobe)
    seconds = time.perf_counter() - start
    ids = vindex.ids_of(indices)
    counts = hit_counts(indices)
    _warn_short(counts, args.k, vindex, args.nprobe)
    if out is None:
        _print_results(scores, counts, indices if ids is None else ids)
    else:
        write_results(out, scores, indices, ids, counts)
    n = len(queries)
    print(
        f"searched {n} queries, k={args.k}, {vindex.meta.kind} index of {vindex.meta.count}: "
        f"embed {embed_seconds:.3f} s, search {seconds:.3f} s, {n / max(seconds, 1e-9):.0f} QPS"
        + ("" if out is None else f" -> {out}")
    )
    return 0


def _check_out(out: str | None) -> Path | None:
    """The output path, if any, checked (before any work) to be a writable file name."""
    if out is None:
        return None
    path = Path(out)
    if path.suffix not in OUT_SUFFIXES:
        raise InputError(f"--out {out}: expected a {' or '.join(OUT_SUFFIXES)} file")
    return check_output_file(path, "--out", parent_must_exist=True)


def _warn_short(counts: np.ndarray, k: int, vindex: VectorIndex, nprobe: int | None) -> None:
    """One stderr line when some queries got fewer than ``k`` hits (ivf, nprobe too small)."""
    short = int((counts < k).sum())
    if short == 0:
        return
    probed = vindex.meta.nprobe if nprobe is None else nprobe
    print(
        f"gentleclip: warning: {short} of {len(counts)} queries got fewer than {k} hits "
        f"(as few as {int(counts.min())}): their {probed} probed ivf cells of "
        f"{vindex.meta.nlist} hold fewer rows; raise --nprobe or lower --k",
        file=sys.stderr,
    )


def _queries(args: argparse.Namespace, vindex: VectorIndex) -> tuple[np.ndarray, float]:
    """The query embeddings and the seconds spent embedding them."""
    q = load_array(args.query)
    if args.embedded:
        return q, 0.0
    side = args.query_side or ("a" if vindex.meta.side == "b" else "b")
    model = _load_model(args.run, vindex, args.index)
    expected = input_dim(model, side)
    if q.shape[1] != expected:
        raise InputError(
            f"{args.query}: has {q.shape[1]} columns, side-{side} features have {expected}"
        )
    start = time.perf_counter()
    z = embed(model, side, q).numpy()
    return z, time.perf_counter() - start


def _load_model(run_arg: str | None, vindex: VectorIndex, index: str) -> Model:
    """The model of ``--run`` (or the recorded run), checked to be the index's model."""
    model_dir = _model_dir(run_arg, vindex.meta.run, index)
    if vindex.meta.model_sha256 not in (None, model_fingerprint(model_dir)):
        raise InputError(f"{model_dir}: not the model {index} was built with; rebuild the index")
    return load_model(model_dir)


def _model_dir(run_arg: str | None, recorded: str | None, index: str) -> Path:
    """``model/`` of ``--run`` if given, else of the run recorded in the index."""
    if run_arg is not None:
        if not Path(run_arg).is_dir():
            raise InputError(f"--run {run_arg}: directory not found")
        if not (Path(run_arg) / "model").is_dir():
            raise InputError(f"--run {run_arg} is not a training run folder (no model/ inside)")
        return Path(run_arg) / "model"
    if recorded is None:
        raise InputError(f"{index}: no run recorded; pass --run or --embedded")
    if not (Path(recorded) / "model").is_dir():
        raise InputError(f"run {recorded} (recorded in {index}) not found; pass --run")
    return Path(recorded) / "model"


def write_results(
    path: Path,
    scores: np.ndarray,
    indices: np.ndarray,
    ids: np.ndarray | None,
    counts: np.ndarray,
) -> None:
    """Write ``scores``/``indices`` (and ``ids``) to ``.npz`` or ``.csv``, atomically.

    ``.npz``: the ``(Q, k)`` arrays as searched plus ``counts`` (real hits per query, from
    :func:`hit_counts`); the slots past a query's count are padding (index -1, score NaN).
    ``.csv``: real hits only.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w" if path.suffix == ".csv" else "wb") as handle:
            if path.suffix == ".csv":
                _write_csv(handle, scores, indices, ids, counts)
            else:
                arrays = {"scores": scores, "indices": indices, "counts": counts}
                np.savez(handle, **arrays, **({} if ids is None else {"ids": ids}))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_csv(
    handle: TextIO,
    scores: np.ndarray,
    indices: np.ndarray,
    ids: np.ndarray | None,
    counts: np.ndarray,
) -> None:
    """One row per real hit: ``query,rank,index,score[,id]``; ranks start at 1.

    A query with fewer hits than ``k`` has fewer rows (padding is left out); one with none
    has no row.
    """
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["query", "rank", "index", "score", *([] if ids is None else ["id"])])
    for q in range(indices.shape[0]):
        for r in range(int(counts[q])):
            extra = [] if ids is None else [ids[q, r]]
            writer.writerow([q, r + 1, int(indices[q, r]), f"{scores[q, r]:.6g}", *extra])


def _print_results(scores: np.ndarray, counts: np.ndarray, labels: np.ndarray) -> None:
    """The first few queries' real hits (row ``labels``: ids or indices) on stdout.

    ``--out`` writes them all.
    """
    for q in range(min(len(labels), SHOWN_QUERIES)):
        hits = ", ".join(f"{labels[q, r]} ({scores[q, r]:.3f})" for r in range(int(counts[q])))
        print(f"query {q}: {hits or 'no hits'}")
    if len(labels) > SHOWN_QUERIES:
        print(f"... {len(labels) - SHOWN_QUERIES} more queries; use --out to save all")
