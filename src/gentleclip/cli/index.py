"""`gentleclip index RUN --side {a,b} --input X.npy --out INDEX`: a faiss index of one side.

The input is read through a memory map and embedded ``--batch-size`` rows at a time, so
memory holds one batch of activations besides the index itself.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from gentleclip.data.io import first_bad_row, read_npy
from gentleclip.errors import InputError
from gentleclip.evaluation.index import (
    KINDS,
    RowEmbedder,
    build_index,
    check_ids,
    check_index_destination,
    check_kind,
    import_faiss,
    model_fingerprint,
    save_index,
)
from gentleclip.evaluation.run import Model, embed, input_dim, load_model, output_dim

SCAN_ROWS = 65_536


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("index", help="build a faiss search index of one side's embeddings")
    p.add_argument("run", help="run directory written by `gentleclip train` or `gentleclip fit`")
    p.add_argument("--side", required=True, choices=("a", "b"), help="tower that embeds --input")
    p.add_argument("--input", required=True, help=".npy of shape (N, features) to index")
    p.add_argument("--embedded", action="store_true", help="--input already holds embeddings")
    p.add_argument("--ids", default=None, help="distinct row ids: .txt (one per line) or 1-D .npy")
    p.add_argument("--out", required=True, help="index directory to write")
    p.add_argument("--kind", default="exact", help=f"one of {', '.join(KINDS)} (default exact)")
    p.add_argument("--nlist", type=int, default=None, help="ivf cells (default ~4*sqrt(N))")
    p.add_argument("--nprobe", type=int, default=None, help="ivf cells searched (default 16)")
    p.add_argument("--batch-size", type=int, default=8192, help="rows embedded at a time")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import_faiss()
    check_kind(args.kind)
    out = Path(args.out)
    check_index_destination(out)
    model_dir = Path(args.run) / "model"
    model = load_model(model_dir)
    rows = open_rows(args.input)
    ids = read_ids(args.ids, len(rows)) if args.ids else None
    embed_rows, dim = _row_embedder(model, args.side, rows, args.input, args.embedded)
    start = time.perf_counter()
    vindex = build_index(
        embed_rows,
        len(rows),
        dim,
        kind=args.kind,
        side=args.side,
        nlist=args.nlist,
        nprobe=args.nprobe,
        batch_size=args.batch_size,
        run=str(Path(args.run).resolve()),
        model_sha256=model_fingerprint(model_dir),
        ids=ids,
    )
    save_index(vindex, out)
    seconds = time.perf_counter() - start
    print(
        f"wrote {out}: {args.kind} index of {len(rows)} side-{args.side} rows, dim {dim}, "
        f"{seconds:.2f} s"
    )
    return 0


def open_rows(path: str) -> np.ndarray:
    """Memory-map a 2-D numeric ``.npy`` and check, chunk by chunk, that it is finite."""
    rows = _memory_map(path)
    if rows.ndim != 2 or 0 in rows.shape:
        raise InputError(
            f"{path}: expected a non-empty 2-D array (rows x features), got shape {rows.shape}"
        )
    if rows.dtype.kind not in "biuf":
        raise InputError(f"{path}: expected real numbers, got dtype {rows.dtype}")
    for start in range(0, len(rows), SCAN_ROWS):
        with np.errstate(over="ignore"):
            bad = first_bad_row(np.asarray(rows[start : start + SCAN_ROWS], dtype=np.float32))
        if bad is not None:
            raise InputError(
                f"{path}: contains NaN or Inf (or a value beyond float32), "
                f"first at row {start + bad}"
            )
    return rows


def _memory_map(path: str) -> np.ndarray:
    """``np.load(path, mmap_mode="r")`` with one-line errors for bad or missing files."""
    if not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{path}: not a readable plain .npy array ({err})") from err
    if not isinstance(rows, np.ndarray):
        rows.close()
        raise InputError(f"{path}: is an .npz archive; expected a single .npy array")
    return rows


def read_ids(path: str, count: int) -> np.ndarray:
    """Row ids from a ``.txt`` file (one per line) or a 1-D integer/string ``.npy``.

    Ids must be distinct and not blank (nor ``-1`` for integers): those mark missing hits.
    """
    file = Path(path)
    if file.suffix == ".npy":
        return check_ids(read_npy(file), count, path, distinct=True)
    if not file.is_file():
        raise InputError(f"{path}: file not found")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read ids ({err})") from err
    return check_ids(np.array(lines, dtype=str), count, path, distinct=True, unit="line")


def _row_embedder(
    model: Model, side: str, rows: np.ndarray, name: str, embedded: bool
) -> tuple[RowEmbedder, int]:
    """Function mapping row selections of ``rows`` to embeddings, and the embedding size."""
    dim = output_dim(model)
    expected = dim if embedded else input_dim(model, side)
    if rows.shape[1] != expected:
        what = "embeddings of size" if embedded else f"side-{side} features:"
        raise InputError(f"{name}: has {rows.shape[1]} columns, expected {what} {expected}")

    def embed_rows(selection: slice | np.ndarray) -> np.ndarray:
        batch = np.array(rows[selection], dtype=np.float32)  # a writable copy of one batch
        if embedded:
            return batch
        return embed(model, side, batch, chunk_size=len(batch)).numpy()

    return embed_rows, dim
