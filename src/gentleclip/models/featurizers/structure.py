"""``ca_geometry``: per-residue geometric features of a protein chain from C-alpha coordinates.

No learned weights: every channel is a function of inter-residue distances and angles, so the
features are invariant to rotation and translation of the chain. Per residue ``i`` (chain of
``L`` residues; a neighbour outside the chain gives 0):

* 8 channels: CA-CA distances to residues ``i-4..i-1, i+1..i+4``, divided by 10 A;
* 2 channels: sin/cos of the virtual bond angle at ``i`` (CA ``i-1, i, i+1``);
* 2 channels: sin/cos of the virtual torsion over CA ``i-1, i, i+1, i+2``;
* 3 channels: number of other CAs within 8, 10 and 12 A, divided by 10;
* 1 channel: distance to the chain's centroid divided by its radius of gyration;
* 1 channel: relative position ``i / (L - 1)`` along the chain;
* 1 channel (last): validity, 1 for a residue and 0 for padding.

Chains are truncated to their first ``max_len`` residues (geometry is computed on the whole
chain first) or zero-padded, and the ``(max_len, 18)`` block is flattened row-major, so item
``n`` is ``features[n].reshape(max_len, 18)`` and ``features[n, c::18]`` is channel ``c``.
The ``residue_attention`` encoder undoes this flattening and masks on the validity channel.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer

NEIGHBOUR_OFFSETS = (-4, -3, -2, -1, 1, 2, 3, 4)
CONTACT_RADII = (8.0, 10.0, 12.0)
CA_CHANNELS = len(NEIGHBOUR_OFFSETS) + 2 + 2 + len(CONTACT_RADII) + 1 + 1 + 1  # 18


def pad_residues(features: np.ndarray, max_len: int) -> np.ndarray:
    """(L, C) per-residue features -> (max_len, C + 1): truncated or zero-padded, validity last."""
    out = np.zeros((max_len, features.shape[1] + 1), dtype=np.float32)
    length = min(len(features), max_len)
    out[:length, :-1] = features[:length]
    out[:length, -1] = 1.0
    return out


def check_coordinates(coords: Any, index: int = 0) -> np.ndarray:
    """``coords`` as a finite float64 (L, 3) array with L >= 1, else :class:`InputError`."""
    array = np.asarray(coords, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3 or len(array) == 0:
        raise InputError(
            f"structure {index}: C-alpha coordinates must be (L, 3), got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise InputError(f"structure {index}: C-alpha coordinates contain NaN or inf")
    return array


def _neighbour_distances(ca: np.ndarray) -> np.ndarray:
    """(L, 8) distances to residues at the fixed sequence offsets (0 outside the chain)."""
    out = np.zeros((len(ca), len(NEIGHBOUR_OFFSETS)))
    for col, k in enumerate(NEIGHBOUR_OFFSETS):
        if abs(k) >= len(ca):
            continue
        d = np.linalg.norm(ca[abs(k) :] - ca[: -abs(k)], axis=1)
        if k > 0:
            out[: len(ca) - k, col] = d
        else:
            out[-k:, col] = d
    return out / 10.0


def bond_angles(ca: np.ndarray) -> np.ndarray:
    """(L, 2) sin/cos of the angle (i-1, i, i+1); zero at the chain ends."""
    out = np.zeros((len(ca), 2))
    if len(ca) < 3:
        return out
    u = ca[:-2] - ca[1:-1]
    v = ca[2:] - ca[1:-1]
    cos = np.einsum("ij,ij->i", u, v)
    sin = np.linalg.norm(np.cross(u, v), axis=1)
    norm = np.maximum(np.hypot(sin, cos), 1e-12)
    out[1:-1, 0], out[1:-1, 1] = sin / norm, cos / norm
    return out


def torsions(ca: np.ndarray) -> np.ndarray:
    """(L, 2) sin/cos of the dihedral (i-1, i, i+1, i+2); zero where undefined."""
    out = np.zeros((len(ca), 2))
    if len(ca) < 4:
        return out
    b1, b2, b3 = ca[1:-2] - ca[:-3], ca[2:-1] - ca[1:-2], ca[3:] - ca[2:-1]
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    b2_unit = b2 / np.maximum(np.linalg.norm(b2, axis=1, keepdims=True), 1e-12)
    x = np.einsum("ij,ij->i", n1, n2)
    y = np.einsum("ij,ij->i", np.cross(n1, n2), b2_unit)
    norm = np.hypot(x, y)
    ok = norm > 1e-12
    out[1:-2, 0] = np.where(ok, y / np.where(ok, norm, 1.0), 0.0)
    out[1:-2, 1] = np.where(ok, x / np.where(ok, norm, 1.0), 0.0)
    return out


def ca_distances(ca: np.ndarray) -> np.ndarray:
    """(L, L) CA-CA distances."""
    return np.linalg.norm(ca[:, None, :] - ca[None, :, :], axis=-1)


def contact_counts(dist: np.ndarray, radius: float) -> np.ndarray:
    """(L,) number of other CAs closer than ``radius``, divided by 10."""
    return ((dist < radius).sum(axis=1) - 1) / 10.0


def radial_distances(ca: np.ndarray) -> tuple[np.ndarray, float]:
    """(L,) distance to the centroid over the radius of gyration (zeros for a chain with no
    extent), and the radius of gyration."""
    centred = np.linalg.norm(ca - ca.mean(axis=0), axis=1)
    gyration = float(np.sqrt((centred**2).mean()))
    radial = centred / gyration if gyration > 1e-12 else np.zeros(len(ca))
    return radial, gyration


def _global_channels(ca: np.ndarray) -> np.ndarray:
    """(L, 5): contact counts at the three radii / 10, centroid distance / Rg, position."""
    dist = ca_distances(ca)
    counts = [contact_counts(dist, r) for r in CONTACT_RADII]
    radial, _ = radial_distances(ca)
    position = np.arange(len(ca)) / max(len(ca) - 1, 1)
    return np.stack([*counts, radial, position], axis=1)


def ca_geometry(coords: Any, max_len: int = 400) -> np.ndarray:
    """(max_len, 18) float32 per-residue geometry of one chain (see the module docstring)."""
    ca = check_coordinates(coords)
    per_residue = np.concatenate(
        [_neighbour_distances(ca), bond_angles(ca), torsions(ca), _global_channels(ca)], axis=1
    )
    return pad_residues(per_residue, max_len)


class CATraceFeaturizer(Featurizer):
    """A featurizer of C-alpha traces: items are (L, 3) coordinate arrays, identified by their
    float64 bytes and shape; subclasses turn one checked trace into one feature row."""

    def item_bytes(self, item: Any) -> bytes:
        array = np.ascontiguousarray(np.asarray(item, dtype=np.float64))
        return array.tobytes() + str(array.shape).encode()

    @abstractmethod
    def trace_features(self, ca: np.ndarray) -> np.ndarray:
        """(dim,) features of one (L, 3) trace."""

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for row, item in enumerate(tqdm(items, desc=self.name, disable=not progress)):
            out[row] = self.trace_features(check_coordinates(item, row))
        return out


class CAGeometry(CATraceFeaturizer):
    """C-alpha geometry per residue, padded to ``max_len`` and flattened."""

    name = "ca_geometry"
    version = "1"

    def __init__(self, max_len: int = 400) -> None:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len <= 0:
            raise InputError(f"ca_geometry max_len must be a positive int, got {max_len!r}")
        self.max_len = max_len
        self.channels = CA_CHANNELS

    @property
    def dim(self) -> int:
        return self.max_len * self.channels

    def settings(self) -> dict[str, Any]:
        return {"max_len": self.max_len}

    def trace_features(self, ca: np.ndarray) -> np.ndarray:
        return ca_geometry(ca, self.max_len).reshape(-1)


@register_featurizer("ca_geometry")
def create_ca_geometry(max_len: int = 400) -> CAGeometry:
    """Factory for :class:`CAGeometry`."""
    return CAGeometry(max_len=max_len)
