"""Benchmark of `gentleclip.evaluation.index` at scale (a script, not a test).

Usage::

    python benchmarks/search_qps.py                      # 1,000,000 x 128, 1,000 queries
    python benchmarks/search_qps.py --rows 100000 --out docs/bench/search.md
    python benchmarks/search_qps.py --case exact --rows 1000 --gt /tmp/gt.npy  # one case, JSON

A gallery of ``--rows`` L2-normalised float32 rows of ``--dim`` columns is generated in
chunks of 100,000 (each chunk from its own seed, so every process sees the same rows) and
indexed through :func:`gentleclip.evaluation.index.build_index`, the code path of
``gentleclip index``. ``--queries`` queries are searched in one batch with ``k = 10``.

Cases, each in a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own:

1. ``exact``: faiss ``IndexFlatIP``; its top-10 is the ground truth for recall.
2. ``ivf``: faiss ``IndexIVFFlat`` with ``--nlist`` cells, searched with each ``--nprobe``;
   recall@10 is the fraction of the exact top-10 found in the IVF top-10.
3. ``torch``: the evaluation's exact chunked top-k
   (:func:`gentleclip.evaluation.retrieval.topk_indices`) on the first ``--torch-rows`` rows,
   next to faiss exact on the same rows.

``--data random`` draws rows uniformly on the sphere (no cluster structure: the worst case
for IVF); ``--data clustered`` draws them around 1,000 random centres, closer to real
embeddings. Threads: faiss OpenMP and torch intra-op are both set to ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHUNK = 100_000
CENTRES = 1_000


def _normalise(z: np.ndarray) -> np.ndarray:
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


class Gallery:
    """Deterministic synthetic rows: chunk ``c`` is generated from seed ``(seed, c)``."""

    def __init__(self, rows: int, dim: int, data: str, seed: int = 0) -> None:
        self.rows, self.dim, self.data, self.seed = rows, dim, data, seed
        self.centres = np.random.default_rng([seed, 10**9]).normal(size=(CENTRES, dim))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` fresh rows from the gallery's distribution."""
        noise = rng.normal(size=(n, self.dim))
        if self.data == "random":
            return _normalise(noise)
        centre = _normalise(self.centres[rng.integers(0, CENTRES, size=n)])
        return _normalise(centre + 0.5 * _normalise(noise))

    def chunk(self, c: int) -> np.ndarray:
        n = min(CHUNK, self.rows - c * CHUNK)
        return self.sample(n, np.random.default_rng([self.seed, c]))

    def __call__(self, selection: slice | np.ndarray) -> np.ndarray:
        """Rows of a slice or of sorted row indices (what ``build_index`` asks for)."""
        rows = np.arange(self.rows)[selection]
        out = np.empty((len(rows), self.dim), np.float32)
        for c in np.unique(rows // CHUNK):
            mask = rows // CHUNK == c
            out[mask] = self.chunk(int(c))[rows[mask] - c * CHUNK]
        return out

    def queries(self, n: int) -> np.ndarray:
        return self.sample(n, np.random.default_rng([self.seed, 2 * 10**9]))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _search_rows(vindex, queries: np.ndarray, k: int, nprobe: int | None, repeats: int):
    """(indices, best-of-``repeats`` seconds) for one batched search after a warm-up."""
    vindex.search(queries[:10], k, nprobe=nprobe)
    best, indices = float("inf"), None
    for _ in range(repeats):
        (_, indices), seconds = _timed(vindex.search, queries, k, nprobe=nprobe)
        best = min(best, seconds)
    return indices, best


def case_exact(args: argparse.Namespace) -> dict:
    from gentleclip.evaluation.index import build_index

    gallery = Gallery(args.rows, args.dim, args.data)
    queries = gallery.queries(args.queries)
    vindex, build = _timed(build_index, gallery, args.rows, args.dim, batch_size=CHUNK)
    indices, seconds = _search_rows(vindex, queries, args.k, None, repeats=1)
    np.save(args.gt, indices)
    return {"case": "exact", "build_s": build, "search_s": seconds, "rss_mib": _peak_rss_mib()}


def case_ivf(args: argparse.Namespace) -> dict:
    from gentleclip.evaluation.index import build_index

    gallery = Gallery(args.rows, args.dim, args.data)
    queries = gallery.queries(args.queries)
    vindex, build = _timed(
        build_index, gallery, args.rows, args.dim, kind="ivf", nlist=args.nlist, batch_size=CHUNK
    )
    truth = np.load(args.gt)
    probes = []
    for nprobe in args.nprobe:
        indices, seconds = _search_rows(vindex, queries, args.k, nprobe, repeats=3)
        found = [len(set(a) & set(b)) for a, b in zip(indices, truth, strict=True)]
        probes.append({"nprobe": nprobe, "search_s": seconds, "recall": float(np.mean(found)) / 10})
    return {"case": "ivf", "build_s": build, "probes": probes, "rss_mib": _peak_rss_mib()}


def case_torch(args: argparse.Namespace) -> dict:
    import torch

    from gentleclip.evaluation.index import build_index
    from gentleclip.evaluation.retrieval import topk_indices

    rows = min(args.torch_rows, args.rows)
    gallery = Gallery(args.rows, args.dim, args.data)
    queries = gallery.queries(args.queries)
    z = gallery(slice(0, rows))
    _, seconds = _timed(
        topk_indices,
        torch.from_numpy(queries),
        torch.from_numpy(z),
        args.k,
        chunk_size=args.torch_chunk,
    )
    vindex = build_index(gallery, rows, args.dim, batch_size=CHUNK)
    _, faiss_s = _search_rows(vindex, queries, args.k, None, repeats=1)
    return {
        "case": "torch",
        "rows": rows,
        "search_s": seconds,
        "faiss_search_s": faiss_s,
        "rss_mib": _peak_rss_mib(),
    }


def case_baseline(args: argparse.Namespace) -> dict:
    import torch  # noqa: F401

    import gentleclip.evaluation.index  # noqa: F401
    from gentleclip.evaluation.index import import_faiss

    import_faiss()
    return {"case": "baseline", "rss_mib": _peak_rss_mib()}


CASES = {"exact": case_exact, "ivf": case_ivf, "torch": case_torch, "baseline": case_baseline}


def _set_threads(threads: int) -> None:
    import faiss
    import torch

    faiss.omp_set_num_threads(threads)
    torch.set_num_threads(threads)


def _run_case(case: str, argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *argv, "--case", case], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(args: argparse.Namespace, results: dict[str, dict], command: str) -> str:
    q, base = args.queries, results["baseline"]["rss_mib"]
    exact, ivf, tor = results["exact"], results["ivf"], results["torch"]
    lines = [
        f"### {args.rows:,} x {args.dim}, `--data {args.data}`, {q:,} queries, k = {args.k}",
        "",
        f"Command: `{command}`",
        "",
        "| index | build (s) | search (s) | QPS | recall@10 vs exact | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| faiss exact (IndexFlatIP) | {exact['build_s']:.1f} | {exact['search_s']:.2f} "
        f"| {q / exact['search_s']:,.0f} | 1.000 | {exact['rss_mib']:,.0f} |",
    ]
    for p in ivf["probes"]:
        lines.append(
            f"| faiss IVF nlist={args.nlist}, nprobe={p['nprobe']} | {ivf['build_s']:.1f} "
            f"| {p['search_s']:.3f} | {q / p['search_s']:,.0f} | {p['recall']:.3f} "
            f"| {ivf['rss_mib']:,.0f} |"
        )
    lines += [
        f"| evaluation `topk_indices` (torch, chunk {args.torch_chunk}), {tor['rows']:,} rows "
        f"| - | {tor['search_s']:.2f} | {q / tor['search_s']:,.0f} | 1.000 "
        f"| {tor['rss_mib']:,.0f} |",
        f"| faiss exact, same {tor['rows']:,} rows | - | {tor['faiss_search_s']:.3f} "
        f"| {q / tor['faiss_search_s']:,.0f} | 1.000 | (same process) |",
        "",
        f"Peak RSS of a process that only imports torch, faiss and gentleclip: {base:,.0f} MiB. "
        "IVF build time includes k-means training on the sample and adding every row; "
        "IVF search seconds are the best of 3 batched searches.",
        "",
    ]
    return "\n".join(lines)


def _machine() -> str:
    """CPU model, core count, Python and faiss versions."""
    import os

    import faiss

    cpu = platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    cpu = names[0] if names else cpu
    versions = f"Python {platform.python_version()}, faiss {faiss.__version__}"
    return f"{cpu}, {os.cpu_count()} cores visible, {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--data", choices=("random", "clustered"), default="random")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--torch-rows", type=int, default=100_000)
    parser.add_argument("--torch-chunk", type=int, default=256)
    parser.add_argument("--case", choices=sorted(CASES), default=None, help="run one case")
    parser.add_argument("--gt", default=None, help="exact top-k file shared by exact/ivf cases")
    parser.add_argument("--out", default=None, help="append the markdown table to this file")
    args = parser.parse_args()
    _set_threads(args.threads)
    if args.case:
        print(json.dumps(CASES[args.case](args)))
        return
    argv = [a for a in sys.argv[1:] if not a.startswith("--out") and a != args.out]
    with tempfile.TemporaryDirectory() as tmp:
        argv += ["--gt", str(Path(tmp) / "gt.npy")]
        results = {case: _run_case(case, argv) for case in ("baseline", "exact", "ivf", "torch")}
    command = "python benchmarks/search_qps.py " + " ".join(sys.argv[1:])
    table = _table(args, results, command.strip()) + f"Machine: {_machine()}.\n"
    print(table)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
