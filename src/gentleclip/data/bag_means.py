"""Pseudo-pairs from bags: each bag's mean A row matched with its mean B row.

A bag holds A rows and B rows known to describe the same objects, in unknown order. Their
means correspond exactly under any *linear* map between the sides (if ``b = W a`` for every
object, then ``mean(b) = W mean(a)`` over the bag), so a method that can only use matched
pairs can still use bags through their means. This is the obvious way to give pair-only
methods (CLIP, ridge, Procrustes, CCA, relative representations) the bag information that
Gentle-CLIP's distribution terms use, and the bench's ``*-bagmeans`` baselines do exactly that.

The means carry less as bags grow: bags that each cover every class all have nearly the same
mean. A bag of one A row and one B row is an ordinary pair.

>>> import numpy as np
>>> a = np.array([[0.0], [2.0], [10.0]], np.float32)
>>> b = np.array([[1.0], [3.0], [20.0]], np.float32)
>>> mean_a, mean_b = bag_mean_rows(a, np.array([7, 7, 9]), b, np.array([9, 7, 7]))
>>> mean_a.ravel().tolist(), mean_b.ravel().tolist()
([1.0, 10.0], [11.5, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError

__all__ = ["bag_mean_rows", "data_with_bag_means", "with_bag_means"]

NO_BAGS = "bag means need bags (unpaired_a_bags / unpaired_b_bags); these data have none"


def bag_mean_rows(
    unpaired_a: np.ndarray,
    bags_a: np.ndarray | None,
    unpaired_b: np.ndarray,
    bags_b: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_bags, dim_a)`` and ``(n_bags, dim_b)`` float32 means of each bag's rows per side.

    Row ``i`` of both outputs belongs to the ``i``-th smallest bag id. Means are taken in
    float64. Raises InputError when a side has no bag ids (None), the sides' bag ids differ or
    a bag id array does not have one entry per row.
    """
    if bags_a is None or bags_b is None:
        raise InputError(NO_BAGS)
    means = {}
    ids = {}
    for side, rows, bags in (("a", unpaired_a, bags_a), ("b", unpaired_b, bags_b)):
        rows, bags = np.asarray(rows), np.asarray(bags)
        if bags.ndim != 1 or bags.shape[0] != rows.shape[0]:
            raise InputError(
                f"bags_{side}: expected one bag id per unpaired {side.upper()} row "
                f"({rows.shape[0]}), got shape {bags.shape}"
            )
        ids[side], inverse = np.unique(bags, return_inverse=True)
        sums = np.zeros((ids[side].size, rows.shape[1]), np.float64)
        np.add.at(sums, inverse, rows.astype(np.float64))
        means[side] = (sums / np.bincount(inverse)[:, None]).astype(np.float32)
    if not np.array_equal(ids["a"], ids["b"]):
        raise InputError("bag ids differ between the sides: each bag needs A rows and B rows")
    return means["a"], means["b"]


def with_bag_means(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy of dataset ``arrays`` with every bag's mean rows appended to the pairs.

    ``paired_a`` / ``paired_b`` become the true pairs followed by one pseudo-pair per bag
    (:func:`bag_mean_rows`); the unpaired rows, their bag ids and the eval arrays are kept as
    they are, so label-free statistics over "all training rows" (standardisation, PCA) also
    see the mean rows. Raises InputError when ``arrays`` has no bags (no ``unpaired_*_bags``).
    """
    mean_a, mean_b = bag_mean_rows(
        arrays.get("unpaired_a"),
        arrays.get("unpaired_a_bags"),
        arrays.get("unpaired_b"),
        arrays.get("unpaired_b_bags"),
    )
    out = dict(arrays)
    for side, means in (("a", mean_a), ("b", mean_b)):
        paired = arrays.get(f"paired_{side}")
        out[f"paired_{side}"] = means if paired is None else np.concatenate([paired, means])
    return out


def data_with_bag_means(data: RegimeData) -> RegimeData:
    """:func:`with_bag_means` of a loaded dataset: its pairs followed by one pair per bag."""
    mean_a, mean_b = bag_mean_rows(data.unpaired_a, data.bags_a, data.unpaired_b, data.bags_b)
    return replace(
        data,
        paired_a=np.concatenate([data.paired_a, mean_a]),
        paired_b=np.concatenate([data.paired_b, mean_b]),
    )
