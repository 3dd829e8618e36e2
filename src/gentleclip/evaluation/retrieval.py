"""Cross-modal retrieval metrics computed in row chunks.

The inputs are two embedding matrices ``za`` and ``zb`` of shape ``(N, D)`` whose row ``i``
form a matched (held-out) pair. Similarity is the plain dot product, which equals cosine
similarity for L2-normalised embeddings (the caller's responsibility; it is not checked).

Nothing here materialises the full ``N x N`` similarity matrix: queries are processed
``chunk_size`` rows at a time, so peak memory is ``O(chunk_size * N)``. Every result is
independent of ``chunk_size``.

Tie handling
------------
Two gallery items with the same similarity to a query (duplicated rows, or a map that
collapses many items onto one point) are a tie. ``ties`` picks the rule:

* ``"expected"`` (the default): the metric's expectation when ties are broken uniformly at
  random. With ``g`` gallery items strictly more similar than the true match and ``t`` others
  exactly as similar, the true match's position is uniform on ``g + 1 .. g + t + 1``, so its
  rank is ``1 + g + t / 2`` (median and mean rank use it) and ``R@k`` counts
  ``P(position <= k) = clip((k - g) / (t + 1), 0, 1)``. Class precision@1 counts the share of
  the query's label among the top-similarity items. Without ties every metric equals the
  optimistic one.
* ``"optimistic"`` (the only rule before it was found to reward collapse): the rank is
  ``1 + g``, so a tie counts as a hit, and class precision@1 takes the top item of the
  lowest index. A map that puts many items on one point scores well under it; it is kept
  to reproduce results made with it.

**Top-k lists break ties by the lower gallery index**, which makes :func:`topk_indices`
deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from gentleclip.errors import InputError
from gentleclip.losses.functional import all_finite

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
TIE_RULES: tuple[str, ...] = ("expected", "optimistic")


def as_embedding_matrix(x: Tensor | np.ndarray, name: str) -> Tensor:
    """Return ``x`` as a non-empty, finite, floating-point 2-D tensor or raise InputError."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise InputError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.ndim != 2:
        raise InputError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(x.shape)})")
    x = x.detach()
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if not all_finite(x):
        raise InputError(f"{name} contains NaN or Inf values")
    return x


def _check_pair(
    za: Tensor | np.ndarray, zb: Tensor | np.ndarray, names: tuple[str, str] = ("za", "zb")
) -> tuple[Tensor, Tensor]:
    """Validate two paired embedding matrices and cast them to a common dtype."""
    a = as_embedding_matrix(za, names[0])
    b = as_embedding_matrix(zb, names[1])
    if a.shape != b.shape:
        raise InputError(
            f"{names[0]} and {names[1]} must have the same shape (N, D), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(device=a.device, dtype=dtype)


def _check_chunk_size(chunk_size: int) -> None:
    """Raise InputError unless ``chunk_size`` is a positive integer."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")


def _check_k(k: int, what: str = "k") -> None:
    """Raise InputError unless ``k`` is an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"{what} must be an integer >= 1, got {k!r}")


def check_ties(ties: str, what: str = "tie rule") -> None:
    """Raise InputError unless ``ties`` is one of :data:`TIE_RULES`; ``what`` names it in the
    message (an option's name)."""
    if ties not in TIE_RULES:
        raise InputError(f"unknown {what} {ties!r}; use one of {', '.join(TIE_RULES)}")


def _tie_counts(
    query: Tensor,
    gallery: Tensor,
    chunk_size: int,
    codes: Tensor | None = None,
    ties: str = "expected",
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Per query ``i``: gallery items strictly more similar than ``gallery[i]``, those exactly
    as similar (``gallery[i]`` itself left out) and, with label ``codes``, the query's class
    hit at the top (:func:`_class_hits`), from one similarity product per chunk; inputs
    already valid."""
    n = query.shape[0]
    greater = torch.empty(n, dtype=torch.long, device=query.device)
    tied = torch.empty(n, dtype=torch.long, device=query.device)
    hits = None if codes is None else torch.empty(n, dtype=torch.float64, device=query.device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        sim = query[start:stop] @ gallery.T  # (chunk, N)
        rows = torch.arange(stop - start, device=query.device)
        true_sim = sim[rows, rows + start][:, None]  # from the same product: no rounding skew
        greater[start:stop] = (sim > true_sim).sum(dim=1)
        tied[start:stop] = (sim == true_sim).sum(dim=1) - 1
        if hits is not None and codes is not None:
            hits[start:stop] = _class_hits(sim, codes[start:stop], codes, ties)
    return greater, tied, hits


def _ranks_from(greater: Tensor, tied: Tensor, ties: str) -> Tensor:
    """1-based float64 ranks under the tie rule."""
    extra = tied.double() / 2 if ties == "expected" else 0.0
    return 1 + greater.double() + extra


def _recall_at(k: int, greater: Tensor, tied: Tensor, ties: str) -> float:
    """Mean chance that the true match is within the first ``k`` (see module docstring)."""
    if ties == "optimistic":
        return float((greater < k).double().mean())
    return float(((k - greater.double()) / (tied.double() + 1)).clamp(0, 1).mean())


def ranks(za: Tensor, zb: Tensor, *, ties: str = "expected", chunk_size: int = 1024) -> Tensor:
    """1-based rank of ``zb[i]`` among all rows of ``zb`` when querying with ``za[i]``.

    Returns a ``(N,)`` float64 tensor on the inputs' device: under ``ties="expected"`` a
    tied match has the mean of its possible positions (a half-integer for an odd number of
    tied items), under ``"optimistic"`` the best one (see module docstring). Raises
    InputError for invalid inputs or an unknown tie rule.
    """
    _check_chunk_size(chunk_size)
    check_ties(ties)
    a, b = _check_pair(za, zb)
    with torch.no_grad():
        greater, tied, _ = _tie_counts(a, b, chunk_size)
        return _ranks_from(greater, tied, ties)


def _topk_chunk(sim: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Exact top-k of each row of ``sim``, ties broken by the lower column index."""
    if k == 1:  # fast path: argmax is documented to return the first maximal index
        idx = sim.argmax(dim=1, keepdim=True)
        return idx, torch.gather(sim, 1, idx)
    kth = torch.topk(sim, k, dim=1).values[:, -1:]  # k-th largest value per row
    above = sim > kth
    equal = sim == kth
    missing = k - above.sum(dim=1, keepdim=True)  # how many tied items are still needed
    take_equal = equal & (torch.cumsum(equal.to(torch.long), dim=1) <= missing)
    idx = (above | take_equal).nonzero()[:, 1].reshape(sim.shape[0], k)  # ascending index
    scores = torch.gather(sim, 1, idx)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    return torch.gather(idx, 1, order), torch.gather(scores, 1, order)


def topk_indices(
    query: Tensor, gallery: Tensor, k: int, *, chunk_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Exact top-``k`` gallery rows for every query row by dot-product similarity.

    ``query`` is ``(Q, D)`` and ``gallery`` ``(G, D)``. Returns ``(indices, scores)``, both
    ``(Q, min(k, G))``, sorted by decreasing score with ties broken by the lower gallery
    index. ``k`` larger than ``G`` is clipped to ``G``. Memory is ``O(chunk_size * G)``.
    """
    _check_k(k)
    _check_chunk_size(chunk_size)
    q = as_embedding_matrix(query, "query")
    g = as_embedding_matrix(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise InputError(f"query and gallery dimensions differ: {q.shape[1]} vs {g.shape[1]}")
    dtype = torch.promote_types(q.dtype, g.dtype)
    q, g = q.to(dtype), g.to(device=q.device, dtype=dtype)
    k = min(int(k), g.shape[0])
    parts_idx, parts_val = [], []
    with torch.no_grad():
        for start in range(0, q.shape[0], chunk_size):
            idx, val = _topk_chunk(q[start : start + chunk_size] @ g.T, k)
            parts_idx.append(idx)
            parts_val.append(val)
    return torch.cat(parts_idx), torch.cat(parts_val)


def _label_codes(labels: Tensor | np.ndarray, n: int, device: torch.device) -> Tensor:
    """Map arbitrary (numeric or string) labels of length ``n`` to int64 codes."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"labels must have shape ({n},), got {tuple(arr.shape)}")
    codes = np.unique(arr, return_inverse=True)[1].reshape(-1)
    return torch.as_tensor(codes, dtype=torch.long, device=device)


def _class_hits(sim: Tensor, query_codes: Tensor, codes: Tensor, ties: str) -> Tensor:
    """Per row of ``sim`` (queries x gallery), float64: the share of the query's label among
    its top-similarity gallery items (``expected``), or whether the lowest-index top item
    carries it (``optimistic``; ``argmax`` returns the first maximal index, as
    :func:`topk_indices` breaks ties)."""
    if ties == "optimistic":
        return (codes[sim.argmax(dim=1)] == query_codes).double()
    top = sim == sim.max(dim=1, keepdim=True).values
    same = codes[None, :] == query_codes[:, None]
    return (top & same).sum(dim=1).double() / top.sum(dim=1)


def _direction_metrics(
    greater: Tensor, tied: Tensor, ks: Sequence[int], prefix: str, ties: str
) -> dict[str, float]:
    """Recall@k, median and mean rank for one retrieval direction."""
    r = _ranks_from(greater, tied, ties)
    out = {f"{prefix}R@{k}": _recall_at(k, greater, tied, ties) for k in ks}
    out[f"{prefix}median_rank"] = float(np.median(r.cpu().numpy()))
    out[f"{prefix}mean_rank"] = float(r.mean())
    return out


def retrieval_metrics(
    za: Tensor,
    zb: Tensor,
    labels: Tensor | np.ndarray | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    ties: str = "expected",
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Retrieval metrics in both directions for ``N`` paired embeddings.

    Returns a flat dict. For each direction ``d`` in ``a_to_b`` (query ``za``, gallery
    ``zb``) and ``b_to_a``: ``{d}_R@{k}`` for every ``k`` in ``ks`` (the default ``ks``
    yields ``R@1``, ``R@5`` and ``R@10``; ``k > N`` gives 1.0), ``{d}_median_rank`` (the
    usual median, averaging the two middle ranks for even ``N``) and ``{d}_mean_rank``.
    With ``labels`` (one per pair, any comparable dtype) it also reports
    ``{d}_class_P@1``: the fraction of queries whose top-1 item has the query's label (under
    ``"expected"`` ties, the label's share among the items tied for the top).

    Ranks are 1-based. ``ties`` is the rule for gallery items exactly as similar as the one
    that counts: ``"expected"`` (the expectation under random tie-breaking) or
    ``"optimistic"`` (ties go to the true match; see module docstring). Raises InputError
    for mismatched shapes, empty or non-finite inputs, a labels length mismatch, ``k < 1``,
    ``chunk_size < 1`` or an unknown tie rule.
    """
    _check_chunk_size(chunk_size)
    check_ties(ties)
    for k in ks:
        _check_k(k, "every k in ks")
    a, b = _check_pair(za, zb)
    codes = None if labels is None else _label_codes(labels, a.shape[0], a.device)
    ks = [int(k) for k in ks]
    metrics: dict[str, float] = {}
    with torch.no_grad():
        for prefix, query, gallery in (("a_to_b_", a, b), ("b_to_a_", b, a)):
            greater, tied, hits = _tie_counts(query, gallery, chunk_size, codes, ties)
            metrics.update(_direction_metrics(greater, tied, ks, prefix, ties))
            if hits is not None:
                metrics[f"{prefix}class_P@1"] = float(hits.sum()) / len(hits)
    return metrics
