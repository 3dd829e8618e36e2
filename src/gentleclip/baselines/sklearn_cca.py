"""``cca-sklearn``: scikit-learn's CCA on the pairs, for comparison with our ``cca``.

The issue that asked for a CCA baseline named scikit-learn. Our ``cca`` is a closed-form,
shrinkage-regularised CCA (:class:`~gentleclip.baselines.closed_form.CCABaseline`);
this baseline is scikit-learn's ``CCA`` itself (iterative NIPALS, no regularisation), with
the same label-free preprocessing: each side standardised with the statistics of all its
training rows, then reduced to its top ``pca`` principal components (fitted on those rows).
``sklearn.cross_decomposition.CCA`` is fitted on the paired PCA scores; both sides embed as
its ``transform``. Without shrinkage, the PCA width is what keeps few pairs from fitting
noise, so the candidates vary it.

Needs scikit-learn (``pip install 'gentleclip[reference]'``); imported only when fitted.

Example:
    >>> from gentleclip.baselines import get_baseline
    >>> get_baseline("cca-sklearn").param_grid()[0]
    {'components': 8, 'pca': 64}
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from gentleclip.baselines.base import (
    SCALE_DEFAULTS,
    SCALE_KINDS,
    check_params,
    max_rank,
    pca_basis,
    require_pairs,
    standardized_rows,
)
from gentleclip.baselines.closed_form import LinearEmbedder
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError

__all__ = ["SklearnCCABaseline", "require_sklearn"]

# NIPALS iterations per component; scikit-learn's default is 500 (tol 1e-6)
MAX_ITER = 500


def require_sklearn() -> tuple[Any, type[Warning]]:
    """``sklearn.cross_decomposition`` and its ConvergenceWarning, or an InputError saying how
    to install scikit-learn."""
    try:
        from sklearn import cross_decomposition
        from sklearn.exceptions import ConvergenceWarning
    except ImportError as err:
        raise InputError(
            "cca-sklearn needs scikit-learn: pip install 'gentleclip[reference]' "
            "(or pip install scikit-learn)"
        ) from err
    return cross_decomposition, ConvergenceWarning


class SklearnCCABaseline:
    """scikit-learn's CCA on the pairs' PCA scores (module docstring).

    ``pca`` is clamped to what the training rows support; ``components`` to
    ``min(n_pairs - 1, pca widths)``, the rank that ``n_pairs`` centred pairs can align.
    """

    name = "cca-sklearn"
    defaults: ClassVar[dict[str, Any]] = {"components": 8, "pca": 64, **SCALE_DEFAULTS}
    kinds: ClassVar[dict[str, str]] = {"components": "count", "pca": "count?", **SCALE_KINDS}

    def param_grid(self) -> list[dict[str, Any]]:
        """PCA widths 64, 32, 16, 8, each with 8 and 4 canonical components."""
        return [{"components": k, "pca": pca} for pca in (64, 32, 16, 8) for k in (8, 4)]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> LinearEmbedder:
        """Fit scikit-learn's CCA on the pairs (``seed`` is unused: NIPALS is deterministic)."""
        params = check_params(params, self.defaults, self.name, self.kinds)
        require_pairs(data, self.name, 2)
        cross_decomposition, convergence_warning = require_sklearn()
        scalers, rows = standardized_rows(data, scale=params["scale"])
        bases = {side: pca_basis(rows[side], params["pca"]) for side in ("a", "b")}
        n = data.n_pairs
        scores = {side: rows[side][:n] @ bases[side] for side in ("a", "b")}
        k = min(int(params["components"]), max_rank(data), *(b.shape[1] for b in bases.values()))
        model = cross_decomposition.CCA(n_components=k, scale=False, max_iter=MAX_ITER)
        with warnings.catch_warnings():  # NIPALS may stop at max_iter on few pairs
            warnings.simplefilter("ignore", convergence_warning)
            model.fit(scores["a"], scores["b"])
        weights = {"a": bases["a"] @ model.x_rotations_, "b": bases["b"] @ model.y_rotations_}
        # transform centres with the means of the fitted scores (scale=False: no division)
        offsets = {
            "a": -scores["a"].mean(axis=0) @ model.x_rotations_,
            "b": -scores["b"].mean(axis=0) @ model.y_rotations_,
        }
        return LinearEmbedder(standardizers=scalers, weights=weights, offsets=offsets)
