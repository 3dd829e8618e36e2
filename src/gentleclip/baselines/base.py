"""Shared pieces of the non-neural baselines: protocols, registry and label-free preprocessing.

Every baseline fits on a :class:`~gentleclip.data.regimes.RegimeData` and returns an
:class:`Embedder` that maps raw feature rows of either side into one shared space
(L2-normalised float32 rows). The baselines use the matched pairs for their alignment; the
unpaired rows only enter label-free statistics (standardisation, PCA).
"""

from __future__ import annotations

import hashlib
import importlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError

BASELINES: tuple[str, ...] = ("ridge", "procrustes", "cca", "relrep", "cca-sklearn")
"""Names accepted by :func:`get_baseline`."""

SIDES: tuple[str, ...] = ("a", "b")

_MODULES = {
    "ridge": ("gentleclip.baselines.closed_form", "RidgeBaseline"),
    "procrustes": ("gentleclip.baselines.closed_form", "ProcrustesBaseline"),
    "cca": ("gentleclip.baselines.closed_form", "CCABaseline"),
    "relrep": ("gentleclip.baselines.relrep", "RelRepBaseline"),
    # scikit-learn's CCA (needs the ``reference`` extra), to compare with our ``cca``
    "cca-sklearn": ("gentleclip.baselines.sklearn_cca", "SklearnCCABaseline"),
}


class Embedder(Protocol):
    """A fitted baseline: raw rows of one side -> shared-space embeddings."""

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        """(N, D) L2-normalised float32 embeddings of raw rows ``x`` of side ``"a"``/``"b"``."""
        ...


class Baseline(Protocol):
    """A baseline method: a grid of hyper-parameter candidates and a fit."""

    name: str
    defaults: dict[str, Any]  # every hyper-parameter with its default
    kinds: dict[str, str]  # every hyper-parameter's kind (a key of PARAM_KINDS)

    def param_grid(self) -> list[dict[str, Any]]:
        """Candidate hyper-parameter dicts (at most 8), the first being the default."""
        ...

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> Embedder:
        """Fit on ``data`` with hyper-parameters ``params``; raises InputError without pairs."""
        ...


def get_baseline(name: str) -> Baseline:
    """A fresh baseline by name (one of :data:`BASELINES`)."""
    if name not in _MODULES:
        raise InputError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    module, attr = _MODULES[name]
    return getattr(importlib.import_module(module), attr)()


def require_pairs(data: RegimeData, name: str, minimum: int) -> None:
    """Raise InputError unless ``data`` holds at least ``minimum`` matched pairs."""
    if data.n_pairs < minimum:
        raise InputError(
            f"{name} needs pairs: the training data has {data.n_pairs} matched pairs "
            f"(at least {minimum} required)"
        )


# What a hyper-parameter may hold: a description for the error and a test of the value.
PARAM_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "count": ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
    "count?": ("an integer >= 1 or null", lambda v: v is None or (_is_int(v) and v >= 1)),
    "positive": ("a finite number > 0", lambda v: _is_real(v) and 0 < v < math.inf),
    "fraction": ("a number from 0 to 1", lambda v: _is_real(v) and 0 <= v <= 1),
    "flag": ("true or false", lambda v: isinstance(v, bool | np.bool_)),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float | np.floating)) and not math.isnan(value)


def check_params(
    params: dict[str, Any],
    defaults: dict[str, Any],
    name: str,
    kinds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``defaults`` overridden by ``params``; InputError for an unknown key or, with
    ``kinds`` (parameter -> a key of :data:`PARAM_KINDS`), a value of the wrong kind."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InputError(
            f"unknown {name} parameter {unknown[0]!r}; known: {', '.join(sorted(defaults))}"
        )
    merged = {**defaults, **params}
    for key, kind in (kinds or {}).items():
        description, valid = PARAM_KINDS[kind]
        if not valid(merged[key]):
            raise InputError(f"{name} parameter {key} must be {description}, got {merged[key]!r}")
    return merged


@dataclass(frozen=True)
class Standardizer:
    """Per-column standardisation with statistics of all training rows of one side."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, *, scale: bool = True) -> Standardizer:
        """Mean and standard deviation of ``x`` (constant columns get std 1); with
        ``scale=False`` std 1 everywhere: the rows are only centred."""
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0) if scale else np.ones(x.shape[1])
        return cls(mean=x.mean(axis=0), std=np.where(std > 1e-12, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std


def pca_basis(x: np.ndarray, k: int | None) -> np.ndarray:
    """(d, k') orthonormal top principal directions of centred ``x`` (k' <= rank bound).

    ``k=None`` keeps every direction the data can support (``min(n, d)``).
    """
    n, d = x.shape
    limit = min(n, d)
    k = limit if k is None else max(1, min(int(k), limit))
    return principal_directions(x)[:k].T


# Principal directions kept for the last few distinct inputs: a tuned baseline fits every
# candidate on the same rows (and ridge, procrustes, cca and relrep standardise them the same
# way), so the decomposition, the whole cost on wide features, is computed once per set of rows.
SVD_CACHE_SIZE = 4
# principal_directions takes the covariance's eigenvectors from this many features up (where
# there are at least as many rows); narrower inputs keep the thin SVD
COVARIANCE_MIN_WIDTH = 1024
_SVD_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()


def svd(
    matrix: np.ndarray, *, full_matrices: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``u, s, vt`` of ``matrix``: numpy's SVD (LAPACK's gesdd), or, where gesdd does not
    converge, scipy's with gesvd (slower, sturdier). gesdd can fail on finite, rank-deficient
    matrices, such as the cross-covariance of fewer pairs than dimensions in a
    cross-validation fold; the fallback runs only then, so every other result is unchanged.

    Raises InputError where neither converges."""
    try:
        return np.linalg.svd(matrix, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        from scipy.linalg import LinAlgError
        from scipy.linalg import svd as scipy_svd

        try:
            return scipy_svd(matrix, full_matrices=full_matrices, lapack_driver="gesvd")
        except (LinAlgError, ValueError) as err:
            raise InputError(
                f"the SVD of a {matrix.shape[0]} x {matrix.shape[1]} matrix did not converge "
                f"({err}); check the features for extreme values"
            ) from None


def principal_directions(x: np.ndarray) -> np.ndarray:
    """The principal directions of centred ``x`` (:func:`_directions`: the thin SVD's ``vt``
    or, for many rows of wide features, the covariance's eigenvectors): (min(n, d), d), rows
    by decreasing variance.

    Memoised on the bytes of ``x`` (the last :data:`SVD_CACHE_SIZE` inputs): a repeated call
    returns the same read-only array the first call computed.
    """
    x = np.ascontiguousarray(x)
    digest = hashlib.blake2b(f"{x.dtype}{x.shape}".encode(), digest_size=20)
    digest.update(x.data)
    key = digest.hexdigest()
    if key in _SVD_CACHE:
        _SVD_CACHE.move_to_end(key)
        return _SVD_CACHE[key]
    vt = _directions(x - x.mean(axis=0))
    vt.setflags(write=False)
    _SVD_CACHE[key] = vt
    while len(_SVD_CACHE) > SVD_CACHE_SIZE:
        _SVD_CACHE.popitem(last=False)
    return vt


def _directions(centred: np.ndarray) -> np.ndarray:
    """Principal directions of ``centred`` (n, d), by decreasing variance: the thin SVD's
    ``vt``, or, for many rows of wide features (``n >= d >= COVARIANCE_MIN_WIDTH``), the
    eigenvectors of ``centred^T centred`` (d x d), the same directions up to sign and
    rounding at a quarter of the cost (1.7 s against 6.9 s for a 3,580 x 2,048 binary
    matrix, one thread). Where the eigensolver fails it falls back to :func:`svd`."""
    n, d = centred.shape
    if n >= d >= COVARIANCE_MIN_WIDTH:
        try:
            vectors = np.linalg.eigh(centred.T @ centred)[1]  # ascending eigenvalues
            return np.ascontiguousarray(vectors[:, ::-1].T)
        except np.linalg.LinAlgError:
            pass
    return svd(centred, full_matrices=False)[2]


def side_train_rows(data: RegimeData, side: str) -> np.ndarray:
    """All training rows of one side (paired then unpaired), float64."""
    rows = data.train_arrays_a() if side == "a" else data.train_arrays_b()
    return rows.astype(np.float64)


# the hyper-parameter every baseline has: ``scale`` False centres the features without
# dividing by their standard deviations (binary fingerprints, whose rare bits standardisation
# blows up); not in any param_grid, so tuning leaves it at its default unless it is set
SCALE_DEFAULTS: dict[str, Any] = {"scale": True}
SCALE_KINDS: dict[str, str] = {"scale": "flag"}


def standardized_rows(
    data: RegimeData, *, scale: bool = True
) -> tuple[dict[str, Standardizer], dict[str, np.ndarray]]:
    """Per-side standardisers fitted on all training rows, and those rows standardised
    (centred only with ``scale=False``)."""
    raw = {side: side_train_rows(data, side) for side in SIDES}
    scalers = {side: Standardizer.fit(rows, scale=scale) for side, rows in raw.items()}
    return scalers, {side: scalers[side](rows) for side, rows in raw.items()}


def max_rank(data: RegimeData) -> int:
    """Directions that ``n`` pairs can align: ``n - 1`` (centred), at least 1."""
    return max(1, data.n_pairs - 1)


def check_input(side: str, x: np.ndarray, dims: dict[str, int]) -> np.ndarray:
    """Validate an encode call: known side, finite 2-D rows of the fitted width."""
    if side not in dims:
        raise InputError(f"unknown side {side!r}; choose 'a' or 'b'")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != dims[side]:
        raise InputError(
            f"side-{side} input must have shape (N, {dims[side]}), got {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise InputError(f"nothing to encode: the side-{side} input has 0 rows")
    if x.dtype.kind not in "fiu" or not np.isfinite(x).all():
        raise InputError(f"side-{side} input must be finite numbers (no NaN/Inf)")
    return x.astype(np.float64)


def unit_rows(z: np.ndarray) -> torch.Tensor:
    """L2-normalised float32 tensor of ``z`` (all-zero rows stay zero)."""
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return torch.from_numpy((z / np.maximum(norms, 1e-12)).astype(np.float32))
