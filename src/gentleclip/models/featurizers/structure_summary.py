"""``ca_summary``: one fixed-length, frozen description of a protein chain's C-alpha trace.

Where ``ca_geometry`` keeps every residue (400 x 18 values, read by the trained
``residue_attention`` encoder), ``ca_summary`` pools the chain into 158 numbers that an MLP
tower reads directly, so a structure tower costs what any cached feature does (the bench's
runtime target assumes frozen, cached encoders). No learned weights; invariant to rotation and
translation (a mirror image flips the torsion axis of the angle-by-torsion histogram). For a
chain of ``L`` residues:

* 65 channels, **distance by separation**: for each band of sequence separation
  ``|i - j|`` in ``[1, 3), [3, 6), [6, 12), [12, 24), [24, inf)`` (in that order), the fraction
  of the band's residue pairs whose CA-CA distance falls in ``[0, 2), [2, 4), ..., [22, 24)``
  or ``[24, inf)`` Angstrom (13 bins; a band with no pairs is all zero). Helices, strands and
  the fold's long-range contacts land in different cells.
* 72 channels, **angle by torsion**: a 6 x 12 histogram (row-major) of the virtual bond angle
  at residue ``i`` (CA ``i-1, i, i+1``; 6 bins over ``[0, pi]``) against the virtual torsion
  over CA ``i-1, i, i+1, i+2`` (12 bins over ``[-pi, pi]``), for ``i = 1 .. L-3``, as
  fractions of those ``L - 3`` residues (all zero when ``L < 4``).
* 5 channels, **global**: ``L / 400``; ``ln(L) / 6``; radius of gyration over ``2.2 L^0.38``
  (the compact-globule scaling); relative contact order (mean ``|i - j| / L`` over contacts,
  i.e. pairs with ``|i - j| >= 3`` closer than 8 A; 0 without contacts); contacts per residue
  / 10.
* 16 channels, **profile along the chain**: the residues split into 8 consecutive segments
  (``numpy.array_split``); per segment, the mean number of other CAs within 10 A divided by 10
  (8 channels), then the mean distance to the centroid over the radius of gyration (8 channels;
  empty segments of a chain shorter than 8 give 0).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from gentleclip.models.featurizers.registry import register_featurizer
from gentleclip.models.featurizers.structure import (
    CATraceFeaturizer,
    bond_angles,
    ca_distances,
    check_coordinates,
    contact_counts,
    radial_distances,
    torsions,
)

SEPARATION_EDGES = (1, 3, 6, 12, 24, np.inf)
DISTANCE_EDGES = (*np.arange(0.0, 25.0, 2.0), np.inf)  # 0, 2, ..., 24, inf: 13 bins
ANGLE_BINS, TORSION_BINS = 6, 12
SEGMENTS = 8
CONTACT_CUTOFF, CONTACT_MIN_SEPARATION, PROFILE_RADIUS = 8.0, 3, 10.0
SUMMARY_DIM = (len(SEPARATION_EDGES) - 1) * (len(DISTANCE_EDGES) - 1)
SUMMARY_DIM += ANGLE_BINS * TORSION_BINS + 5 + 2 * SEGMENTS  # 158


def separation_histograms(dist: np.ndarray) -> np.ndarray:
    """(65,) per separation band, the fractions of its pairs in each distance bin."""
    i, j = np.triu_indices(len(dist), 1)
    separation, pair_dist = j - i, dist[i, j]
    bands = []
    for low, high in itertools.pairwise(SEPARATION_EDGES):
        chosen = pair_dist[(separation >= low) & (separation < high)]
        counts = np.histogram(chosen, bins=DISTANCE_EDGES)[0].astype(np.float64)
        bands.append(counts / max(len(chosen), 1))
    return np.concatenate(bands)


def angle_torsion_histogram(ca: np.ndarray) -> np.ndarray:
    """(72,) the bond-angle x torsion histogram as fractions of residues 1 .. L-3."""
    if len(ca) < 4:
        return np.zeros(ANGLE_BINS * TORSION_BINS)
    angle = bond_angles(ca)[1:-2]  # sin/cos at residues 1 .. L-3
    torsion = torsions(ca)[1:-2]  # over (i-1, i, i+1, i+2) for the same residues
    counts, _, _ = np.histogram2d(
        np.arctan2(angle[:, 0], angle[:, 1]),
        np.arctan2(torsion[:, 0], torsion[:, 1]),
        bins=(ANGLE_BINS, TORSION_BINS),
        range=((0.0, np.pi), (-np.pi, np.pi)),
    )
    return counts.ravel() / len(angle)


def global_channels(length: int, gyration: float, dist: np.ndarray) -> np.ndarray:
    """(5,) length, log length, scaled radius of gyration, contact order, contact density."""
    close = np.triu(dist < CONTACT_CUTOFF, CONTACT_MIN_SEPARATION)
    i, j = np.nonzero(close)
    order = float((j - i).mean()) / length if len(i) else 0.0
    return np.array(
        [
            length / 400.0,
            np.log(length) / 6.0,
            gyration / (2.2 * length**0.38),
            order,
            len(i) / length / 10.0,
        ]
    )


def chain_profile(radial: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(16,) per segment along the chain: contact counts within 10 A / 10, then ``radial``
    (distance / radius of gyration); segment means, 0 for an empty segment."""
    counts = contact_counts(dist, PROFILE_RADIUS)
    segments = np.array_split(np.arange(len(radial)), SEGMENTS)
    return np.array(
        [values[s].mean() if len(s) else 0.0 for values in (counts, radial) for s in segments]
    )


def ca_summary(coords: Any) -> np.ndarray:
    """(158,) float32 summary of one chain's C-alpha trace (see the module docstring)."""
    ca = check_coordinates(coords)
    dist = ca_distances(ca)
    radial, gyration = radial_distances(ca)
    parts = (
        separation_histograms(dist),
        angle_torsion_histogram(ca),
        global_channels(len(ca), gyration, dist),
        chain_profile(radial, dist),
    )
    return np.concatenate(parts).astype(np.float32)


class CASummary(CATraceFeaturizer):
    """Fixed-length C-alpha summary: distance-by-separation and angle-by-torsion histograms,
    global shape numbers and a coarse profile along the chain."""

    name = "ca_summary"
    version = "1"

    @property
    def dim(self) -> int:
        return SUMMARY_DIM

    def trace_features(self, ca: np.ndarray) -> np.ndarray:
        return ca_summary(ca)


@register_featurizer("ca_summary")
def create_ca_summary() -> CASummary:
    """Factory for :class:`CASummary` (no options)."""
    return CASummary()
