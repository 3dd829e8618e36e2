"""Nearest-neighbour search over one side's embeddings with faiss (CPU), saved as a directory.

Two index kinds, both by inner product on L2-normalised rows (i.e. cosine similarity, the
same score as :func:`gentleclip.evaluation.retrieval.topk_indices`):

* ``exact``: ``faiss.IndexFlatIP``, brute force, the reference results.
* ``ivf``: ``faiss.IndexIVFFlat`` with ``nlist`` k-means cells trained on a random sample of
  the rows; a search visits the ``nprobe`` nearest cells (``nprobe == nlist`` is exact), so
  a query whose probed cells hold fewer than ``k`` rows gets fewer than ``k`` hits.

An index directory holds ``index.faiss`` (written by ``faiss.write_index``), ``index.json``
(format, kind, dim, count, side, the run it came from with a hash of that run's model files,
options) and, when row ids were given (distinct, none blank), ``ids.npy``. Every file is
written to a temporary name and moved into place with ``os.replace``; ``index.json`` goes
last. Loading checks each file against the others and raises
:class:`~gentleclip.errors.InputError` naming the file.

faiss is optional: it is imported on first use and its absence is an InputError.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gentleclip.data.io import read_json_object, read_npy
from gentleclip.errors import InputError

FORMAT = "gentleclip-index"
VERSION = 1
INDEX_FILE = "index.faiss"
META_FILE = "index.json"
IDS_FILE = "ids.npy"
KINDS = ("exact", "ivf")
SIDES = ("a", "b")
DEFAULT_NPROBE = 16
MODEL_FILES = ("config.json", "model.safetensors")

#: Returns the (rows, dim) float32 embeddings of the requested input rows (a slice or indices).
RowEmbedder = Callable[[slice | np.ndarray], np.ndarray]


def import_faiss() -> ModuleType:
    """The ``faiss`` module, or InputError telling how to install it."""
    try:
        import faiss
    except ImportError as err:
        raise InputError("vector search needs faiss: pip install faiss-cpu") from err
    return faiss


@dataclass(frozen=True)
class IndexMeta:
    """What ``index.json`` records about an index; ``nlist``/``nprobe`` only for ``ivf``."""

    kind: str
    dim: int
    count: int
    side: str
    run: str | None = None
    model_sha256: str | None = None
    nlist: int | None = None
    nprobe: int | None = None
    has_ids: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON object written as ``index.json``."""
        options = {} if self.kind == "exact" else {"nlist": self.nlist, "nprobe": self.nprobe}
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "dim": self.dim,
            "count": self.count,
            "side": self.side,
            "run": self.run,
            "model_sha256": self.model_sha256,
            "options": options,
            "ids": IDS_FILE if self.has_ids else None,
        }

    @classmethod
    def from_dict(cls, data: object, file: Path) -> IndexMeta:
        """Parse :meth:`to_dict` output; anything unexpected is an InputError naming ``file``."""
        if not isinstance(data, dict):
            raise InputError(f"{file}: must hold a JSON object")
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise InputError(f"{file}: not a {FORMAT} version {VERSION} file")
        options = data.get("options")
        if not isinstance(options, dict) or data.get("ids") not in (None, IDS_FILE):
            raise InputError(f"{file}: malformed 'options' or 'ids' entry")
        try:
            meta = cls(
                kind=data["kind"],
                dim=data["dim"],
                count=data["count"],
                side=data["side"],
                run=data["run"],
                model_sha256=data["model_sha256"],
                nlist=options.get("nlist"),
                nprobe=options.get("nprobe"),
                has_ids=data["ids"] is not None,
            )
        except KeyError as err:
            raise InputError(f"{file}: missing key {err}") from err
        meta.validate(file)
        return meta

    def validate(self, where: object | None = None) -> None:
        """Raise InputError (prefixed by ``where``, e.g. a file) for values no index can have."""
        try:
            check_kind(self.kind)
            if self.side not in SIDES:
                raise InputError(f"side must be 'a' or 'b', got {self.side!r}")
            _check_positive_int(self.dim, "dim")
            _check_positive_int(self.count, "count")
            for label, value in (("run", self.run), ("model_sha256", self.model_sha256)):
                if value is not None and not isinstance(value, str):
                    raise InputError(f"{label} must be a string or null")
            if self.kind == "ivf":
                check_ivf_options(self.count, self.nlist, self.nprobe)
        except InputError as err:
            raise (err if where is None else InputError(f"{where}: {err}")) from None


def check_kind(kind: object) -> str:
    """Return ``kind`` if it is a known index kind, else raise InputError."""
    if kind not in KINDS:
        raise InputError(f"unknown index kind {kind!r}; expected one of {', '.join(KINDS)}")
    return str(kind)


def _check_positive_int(value: object, label: str) -> int:
    """Return ``value`` as int if it is an integer >= 1 (not a bool), else raise InputError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{label} must be an integer >= 1, got {value!r}")
    return int(value)


def default_nlist(count: int) -> int:
    """About ``4 * sqrt(count)`` IVF cells, at least 1 and at most ``count``."""
    return max(1, min(count, round(4 * math.sqrt(count))))


def check_ivf_options(count: int, nlist: object, nprobe: object) -> None:
    """``1 <= nlist <= count`` and ``1 <= nprobe <= nlist``, else InputError."""
    nlist = _check_positive_int(nlist, "nlist")
    if nlist > count:
        raise InputError(f"nlist ({nlist}) cannot exceed the number of indexed rows ({count})")
    nprobe = _check_positive_int(nprobe, "nprobe")
    if nprobe > nlist:
        raise InputError(f"nprobe ({nprobe}) cannot exceed nlist ({nlist})")


def normalize_rows(z: np.ndarray, name: str = "embeddings") -> np.ndarray:
    """Validated, L2-normalised, C-contiguous float32 copy of a ``(N, D)`` array."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise InputError(f"{name}: expected a non-empty 2-D array (N, D), got shape {z.shape}")
    if z.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected real numbers, got dtype {z.dtype}")
    z64 = z.astype(np.float64)
    if not np.isfinite(z64).all():
        raise InputError(f"{name}: contains NaN or Inf values")
    norms = np.linalg.norm(z64, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InputError(f"{name}: row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all zeros")
    return np.ascontiguousarray(z64 / norms, dtype=np.float32)


def train_sample(count: int, nlist: int, *, seed: int = 0) -> np.ndarray:
    """Sorted random row indices used to train the IVF cells (faiss uses at most 256/cell)."""
    size = min(count, 256 * nlist, max(40 * nlist, 50_000))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=size, replace=False))


@dataclass
class VectorIndex:
    """A faiss index over ``meta.count`` normalised embeddings, plus optional row ids."""

    index: Any
    meta: IndexMeta
    ids: np.ndarray | None = None

    def search(
        self, queries: np.ndarray, k: int, *, nprobe: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query: ``(scores float32 (Q, k), indices int64 (Q, k))``.

        Queries are L2-normalised first. Rows are sorted by decreasing score. An IVF query
        whose ``nprobe`` probed cells hold fewer than ``k`` rows gets fewer hits: its row
        ends with padding, index ``-1`` and score NaN (never a real score); :func:`hit_counts`
        gives the number of real hits per query. An exact search always fills all ``k``.
        """
        k = _check_positive_int(k, "k")
        if k > self.meta.count:
            raise InputError(f"k ({k}) exceeds the number of indexed rows ({self.meta.count})")
        q = normalize_rows(queries, "queries")
        if q.shape[1] != self.meta.dim:
            raise InputError(f"queries have dimension {q.shape[1]}, the index {self.meta.dim}")
        self._set_nprobe(nprobe)
        scores, indices = self.index.search(q, k)
        scores[indices < 0] = np.nan  # faiss pads with float32 lowest, which looks like a score
        return scores, indices.astype(np.int64, copy=False)

    def _set_nprobe(self, nprobe: int | None) -> None:
        """Apply ``nprobe`` (default: the stored one) to an IVF index; reject it for exact."""
        if self.meta.kind == "exact":
            if nprobe is not None:
                raise InputError("nprobe only applies to an ivf index; this one is exact")
            return
        nprobe = self.meta.nprobe if nprobe is None else nprobe
        check_ivf_options(self.meta.count, self.meta.nlist, nprobe)
        self.index.nprobe = int(nprobe)

    def ids_of(self, indices: np.ndarray) -> np.ndarray | None:
        """Row ids for an array of row indices (``-1`` padding maps to ``""`` or ``-1``)."""
        if self.ids is None:
            return None
        missing = "" if self.ids.dtype.kind == "U" else -1
        out = self.ids[np.clip(indices, 0, None)]
        return np.where(indices < 0, np.asarray(missing, dtype=self.ids.dtype), out)


def hit_counts(indices: np.ndarray) -> np.ndarray:
    """Real hits per query (int64, shape ``(Q,)``) in :meth:`VectorIndex.search` indices."""
    return (np.asarray(indices) >= 0).sum(axis=1, dtype=np.int64)


def new_index(kind: str, dim: int, *, nlist: int | None = None) -> Any:
    """An empty inner-product faiss index of ``kind`` (``ivf`` needs ``nlist`` and training)."""
    faiss = import_faiss()
    if check_kind(kind) == "exact":
        return faiss.IndexFlatIP(dim)
    quantizer = faiss.IndexFlatIP(dim)
    return faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)


def build_index(
    embed_rows: RowEmbedder,
    count: int,
    dim: int,
    *,
    kind: str = "exact",
    side: str = "b",
    nlist: int | None = None,
    nprobe: int | None = None,
    batch_size: int = 8192,
    run: str | None = None,
    model_sha256: str | None = None,
    ids: np.ndarray | None = None,
    progress: bool | None = None,
    seed: int = 0,
) -> VectorIndex:
    """Index ``count`` rows embedded ``batch_size`` at a time by ``embed_rows``.

    Only one batch of embeddings (plus, for ``ivf``, the training sample) is held besides
    the index itself. ``nlist`` defaults to :func:`default_nlist`, ``nprobe`` to
    ``min(nlist, 16)``. ``progress=None`` shows a tqdm bar only on a terminal.
    """
    from tqdm.auto import tqdm

    _check_positive_int(batch_size, "batch_size")
    meta = _new_meta(kind, side, count, dim, nlist, nprobe, run, model_sha256, ids)
    index = new_index(meta.kind, dim, nlist=meta.nlist)
    if meta.kind == "ivf":
        _train(index, embed_rows, train_sample(count, meta.nlist, seed=seed), batch_size, dim)
    starts = range(0, count, batch_size)
    disable = None if progress is None else not progress  # None: only on a terminal
    for start in tqdm(starts, desc=f"index {kind}", unit="batch", disable=disable):
        stop = min(start + batch_size, count)
        index.add(_embedded(embed_rows, slice(start, stop), stop - start, dim))
    return VectorIndex(index, meta, None if ids is None else np.asarray(ids))


def build_index_from_array(z: np.ndarray, **options: Any) -> VectorIndex:
    """:func:`build_index` over rows already embedded, ``z`` of shape ``(N, D)``."""
    z = np.asarray(z)
    if z.ndim != 2:
        raise InputError(f"embeddings: expected a 2-D array (N, D), got shape {z.shape}")
    return build_index(lambda rows: z[rows], z.shape[0], z.shape[1], **options)


def _new_meta(
    kind: str,
    side: str,
    count: int,
    dim: int,
    nlist: int | None,
    nprobe: int | None,
    run: str | None,
    model_sha256: str | None,
    ids: np.ndarray | None,
) -> IndexMeta:
    """Validated metadata for a new index, with IVF defaults filled in."""
    check_kind(kind)
    _check_positive_int(count, "number of rows to index")
    if kind == "ivf":
        nlist = default_nlist(count) if nlist is None else nlist
        if nprobe is None:
            nprobe = min(_check_positive_int(nlist, "nlist"), DEFAULT_NPROBE)
    elif nlist is not None or nprobe is not None:
        raise InputError("nlist and nprobe only apply to an ivf index")
    if ids is not None:
        check_ids(np.asarray(ids), count, "ids", distinct=True)
    meta = IndexMeta(kind, dim, count, side, run, model_sha256, nlist, nprobe, ids is not None)
    meta.validate()
    return meta


def _embedded(embed_rows: RowEmbedder, rows: slice | np.ndarray, n: int, dim: int) -> np.ndarray:
    """Normalised float32 embeddings of ``rows``, checked to be ``(n, dim)``."""
    z = normalize_rows(embed_rows(rows), "embeddings")
    if z.shape != (n, dim):
        raise InputError(f"embeddings: expected shape {(n, dim)}, got {z.shape}")
    return z


def _train(index: Any, embed_rows: RowEmbedder, rows: np.ndarray, batch: int, dim: int) -> None:
    """Train the IVF cells (k-means, faiss defaults) on the embeddings of ``rows``."""
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    index.train(np.concatenate([_embedded(embed_rows, c, len(c), dim) for c in chunks]))


def save_index(vindex: VectorIndex, directory: str | os.PathLike[str]) -> Path:
    """Write ``vindex`` into ``directory`` (created if needed), each file atomically."""
    faiss = import_faiss()
    path = _prepare_directory(Path(directory))
    meta = vindex.meta
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=path))
    try:
        faiss.write_index(vindex.index, str(tmp / INDEX_FILE))
        if vindex.ids is not None:
            np.save(tmp / IDS_FILE, np.asarray(vindex.ids), allow_pickle=False)
        (tmp / META_FILE).write_text(json.dumps(meta.to_dict(), indent=2) + "\n")
        os.replace(tmp / INDEX_FILE, path / INDEX_FILE)
        if vindex.ids is not None:
            os.replace(tmp / IDS_FILE, path / IDS_FILE)
        else:
            (path / IDS_FILE).unlink(missing_ok=True)
        os.replace(tmp / META_FILE, path / META_FILE)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    return path


def check_index_destination(path: Path) -> None:
    """Raise InputError unless ``path`` can receive an index (new, empty or an index dir)."""
    if path.parent.exists() and not path.parent.is_dir():
        raise InputError(f"{path}: parent {path.parent} is not a directory")
    if not path.parent.is_dir():
        raise InputError(f"{path}: parent directory {path.parent} does not exist")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / META_FILE).is_file():
        raise InputError(f"{path}: non-empty directory without {META_FILE}; refusing to overwrite")


def _prepare_directory(path: Path) -> Path:
    """Check ``path`` with :func:`check_index_destination` and create it."""
    check_index_destination(path)
    path.mkdir(exist_ok=True)
    return path


def load_index(directory: str | os.PathLike[str]) -> VectorIndex:
    """Read an index written by :func:`save_index`, checking every file against index.json."""
    path = Path(directory)
    if not path.is_dir():
        raise InputError(f"index directory not found: {path}")
    meta = _read_meta(path / META_FILE)
    index = _read_faiss(path / INDEX_FILE, meta)
    ids = _read_ids(path / IDS_FILE, meta.count) if meta.has_ids else None
    return VectorIndex(index, meta, ids)


def _read_meta(file: Path) -> IndexMeta:
    """Parse ``index.json``; a missing or unreadable file is an InputError naming it."""
    return IndexMeta.from_dict(read_json_object(file, "index metadata"), file)


def _read_faiss(file: Path, meta: IndexMeta) -> Any:
    """Read ``index.faiss`` and check its type, metric, dim, count and nlist against ``meta``."""
    faiss = import_faiss()
    if not file.is_file():
        raise InputError(f"missing index file: {file}")
    try:
        index = faiss.read_index(str(file))
    except RuntimeError as err:
        raise InputError(f"cannot read index file {file}: {_faiss_message(err)}") from err
    expected = faiss.IndexFlatIP if meta.kind == "exact" else faiss.IndexIVFFlat
    found = {
        "type": type(index).__name__,
        "metric": int(index.metric_type),
        "dim": int(index.d),
        "count": int(index.ntotal),
        "nlist": int(index.nlist) if isinstance(index, faiss.IndexIVFFlat) else None,
    }
    wanted = {
        "type": expected.__name__,
        "metric": int(faiss.METRIC_INNER_PRODUCT),
        "dim": meta.dim,
        "count": meta.count,
        "nlist": meta.nlist,
    }
    for key, value in wanted.items():
        if found[key] != value:
            raise InputError(f"{file}: {key} is {found[key]!r}, {META_FILE} says {value!r}")
    return index


def _faiss_message(err: Exception) -> str:
    """faiss's error text on one line, without its source-location prefix."""
    text = " ".join(str(err).split())
    return re.sub(r"^Error in .*? at \S+:\d+: ", "", text)


def _read_ids(file: Path, count: int) -> np.ndarray:
    """Read ``ids.npy``: a 1-D array of ``count`` integers or strings."""
    return check_ids(read_npy(file), count, str(file))


def check_ids(
    ids: np.ndarray, count: int, name: str, *, distinct: bool = False, unit: str = "row"
) -> np.ndarray:
    """Return ``ids`` if it is a 1-D integer or string array of length ``count``.

    ``distinct=True`` (new indexes) also refuses blank string ids, the integer id ``-1``
    (both are the padding of a missing hit) and repeated ids, naming the first offending
    ``unit``: ``"row"`` counts from 0, ``"line"`` (a text file) from 1.
    """
    if ids.ndim != 1 or ids.dtype.kind not in "iuU":
        raise InputError(f"{name}: expected a 1-D array of integer or string ids, got {ids.dtype}")
    if distinct:
        _check_distinct_ids(ids, name, unit)
    if len(ids) != count:
        raise InputError(f"{name}: got {len(ids)} ids for {count} rows")
    return ids


def _check_distinct_ids(ids: np.ndarray, name: str, unit: str) -> None:
    """InputError for the first blank (or ``-1``) id, then for the first repeated id."""
    first = 1 if unit == "line" else 0
    if ids.dtype.kind == "U":
        bad, what = np.char.strip(ids) == "", "blank id"
    else:
        bad, what = ids == -1, "id -1 (reserved for missing hits)"
    if bad.any():
        raise InputError(f"{name}: {what} on {unit} {int(np.flatnonzero(bad)[0]) + first}")
    order = np.argsort(ids, kind="stable")
    repeats = order[1:][ids[order[1:]] == ids[order[:-1]]]
    if len(repeats):
        second = int(repeats.min())
        earlier = int(np.flatnonzero(ids == ids[second])[0])
        raise InputError(
            f"{name}: duplicate id {ids[second].item()!r} on {unit}s "
            f"{earlier + first} and {second + first}"
        )


def model_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over a saved model's ``config.json`` and ``model.safetensors``."""
    digest = hashlib.sha256()
    for name in MODEL_FILES:
        file = Path(model_dir) / name
        if not file.is_file():
            raise InputError(f"missing model file: {file}")
        with file.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
