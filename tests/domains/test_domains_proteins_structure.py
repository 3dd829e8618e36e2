"""Structure featurizers. ca_geometry: invariances, channel values against brute force, padding,
errors. ca_summary: a loop reference from its docstring's formulas, invariances, closed forms (a
straight chain, short chains), the registry and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer
from gentleclip.models.featurizers.structure import CA_CHANNELS, ca_geometry
from gentleclip.models.featurizers.structure_summary import SUMMARY_DIM, ca_summary

TORSION_SIN = 10  # channel layout: 8 distances, bond sin/cos, torsion sin/cos, ...


def _chain(length: int, seed: int = 0) -> np.ndarray:
    """A random-walk C-alpha trace with 3.8 A steps."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(length, 3))
    steps *= 3.8 / np.linalg.norm(steps, axis=1, keepdims=True)
    return np.cumsum(steps, axis=0)


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariant_to_rotation_and_translation(seed: int) -> None:
    ca = _chain(40, seed)
    moved = ca @ _rotation(seed + 10).T + np.array([12.0, -7.5, 30.0])
    np.testing.assert_allclose(ca_geometry(moved, 50), ca_geometry(ca, 50), atol=1e-5)


def test_mirror_image_flips_only_torsion_sine() -> None:
    ca = _chain(30, 3)
    plain, mirrored = ca_geometry(ca, 30), ca_geometry(ca * np.array([-1.0, 1.0, 1.0]), 30)
    np.testing.assert_allclose(mirrored[:, TORSION_SIN], -plain[:, TORSION_SIN], atol=1e-5)
    others = [c for c in range(CA_CHANNELS) if c != TORSION_SIN]
    np.testing.assert_allclose(mirrored[:, others], plain[:, others], atol=1e-5)
    assert np.abs(plain[:, TORSION_SIN]).max() > 0.3  # a random walk is not planar


def test_channels_match_brute_force() -> None:
    ca = _chain(25, 4)
    out = ca_geometry(ca, 25).astype(np.float64)
    n = len(ca)
    for i in range(n):
        for col, k in enumerate((-4, -3, -2, -1, 1, 2, 3, 4)):
            j = i + k
            expected = np.linalg.norm(ca[i] - ca[j]) / 10 if 0 <= j < n else 0.0
            assert out[i, col] == pytest.approx(expected, abs=1e-5)
        for col, radius in zip((12, 13, 14), (8.0, 10.0, 12.0), strict=True):
            count = sum(np.linalg.norm(ca[i] - ca[j]) < radius for j in range(n) if j != i)
            assert out[i, col] == pytest.approx(count / 10, abs=1e-6)
    rg = np.sqrt(((ca - ca.mean(0)) ** 2).sum(1).mean())
    np.testing.assert_allclose(out[:, 15], np.linalg.norm(ca - ca.mean(0), axis=1) / rg, atol=1e-5)
    np.testing.assert_allclose(out[:, 16], np.arange(n) / (n - 1), atol=1e-6)
    i = 5
    u, v = ca[i - 1] - ca[i], ca[i + 1] - ca[i]
    angle = np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert out[i, 8] == pytest.approx(np.sin(angle), abs=1e-5)
    assert out[i, 9] == pytest.approx(np.cos(angle), abs=1e-5)


def test_straight_chain_and_right_angle_torsion() -> None:
    line = np.stack([np.arange(6) * 3.8, np.zeros(6), np.zeros(6)], axis=1)
    out = ca_geometry(line, 6)
    np.testing.assert_allclose(out[1:-1, 9], -1.0, atol=1e-6)  # straight: cos(180 deg)
    square = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    torsion = ca_geometry(square, 4)[1, 10:12]
    np.testing.assert_allclose(np.abs(torsion), [1.0, 0.0], atol=1e-6)  # |dihedral| = 90 deg


def test_padding_truncation_and_validity() -> None:
    short, long = _chain(7), _chain(30)
    padded = ca_geometry(short, 10)
    assert padded.shape == (10, CA_CHANNELS)
    np.testing.assert_array_equal(padded[:, -1], [1] * 7 + [0] * 3)
    assert not padded[7:].any()
    truncated = ca_geometry(long, 12)
    np.testing.assert_array_equal(truncated, ca_geometry(long, 30)[:12])
    assert ca_geometry(np.zeros((1, 3)), 3)[0, -1] == 1.0  # a single residue is valid


def test_featurizer_flattens_and_validates() -> None:
    featurizer = create_featurizer("ca_geometry", max_len=16)
    items = [_chain(10, 0), _chain(20, 1)]
    out = featurizer.encode(items, progress=False)
    assert out.shape == (2, 16 * CA_CHANNELS) == (2, featurizer.dim)
    np.testing.assert_array_equal(out[1].reshape(16, CA_CHANNELS), ca_geometry(items[1], 16))
    assert featurizer.item_bytes(items[0]) != featurizer.item_bytes(items[1])
    bad = _chain(5)
    bad[2, 1] = np.nan
    for item in (bad, np.zeros((4, 2)), np.zeros((0, 3))):
        with pytest.raises(InputError):
            featurizer.encode([item], progress=False)
    with pytest.raises(InputError):
        create_featurizer("ca_geometry", max_len=0)


# ---------------------------------------------------------------- ca_summary

SEPARATIONS = ((1, 3), (3, 6), (6, 12), (12, 24), (24, math.inf))
DISTANCES = [(2.0 * k, 2.0 * k + 2.0) for k in range(12)] + [(24.0, math.inf)]


def _dist(ca: np.ndarray, i: int, j: int) -> float:
    return math.dist(ca[i], ca[j])


def _angle(ca: np.ndarray, i: int) -> float:
    u, v = ca[i - 1] - ca[i], ca[i + 1] - ca[i]
    return math.acos(max(-1.0, min(1.0, float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v)))))


def _torsion(ca: np.ndarray, i: int) -> float:
    """Dihedral over CA i-1, i, i+1, i+2: atan2(|b2| b1 . (b2 x b3), (b1 x b2) . (b2 x b3))."""
    b1, b2, b3 = ca[i] - ca[i - 1], ca[i + 1] - ca[i], ca[i + 2] - ca[i + 1]
    y = float(np.linalg.norm(b2) * b1 @ np.cross(b2, b3))
    return math.atan2(y, float(np.cross(b1, b2) @ np.cross(b2, b3)))


def _bin(value: float, low: float, high: float, bins: int) -> int:
    return min(int((value - low) / (high - low) * bins), bins - 1)


def _reference(ca: np.ndarray) -> np.ndarray:
    """Every channel from the module docstring, one pair or residue at a time."""
    n = len(ca)
    out: list[float] = []
    for low, high in SEPARATIONS:
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if low <= j - i < high]
        for d_low, d_high in DISTANCES:
            hits = sum(d_low <= _dist(ca, i, j) < d_high for i, j in pairs)
            out.append(hits / len(pairs) if pairs else 0.0)
    grid = np.zeros((6, 12))
    for i in range(1, n - 2):
        grid[_bin(_angle(ca, i), 0, math.pi, 6), _bin(_torsion(ca, i), -math.pi, math.pi, 12)] += 1
    out.extend((grid / max(n - 3, 1)).ravel())
    centroid = ca.mean(axis=0)
    gyration = math.sqrt(sum(float(np.sum((x - centroid) ** 2)) for x in ca) / n)
    contacts = [(i, j) for i in range(n) for j in range(i + 3, n) if _dist(ca, i, j) < 8.0]
    order = sum(j - i for i, j in contacts) / len(contacts) / n if contacts else 0.0
    out += [n / 400, math.log(n) / 6, gyration / (2.2 * n**0.38), order, len(contacts) / n / 10]
    counts = [sum(_dist(ca, i, j) < 10.0 for j in range(n) if j != i) / 10 for i in range(n)]
    radial = [math.dist(x, centroid) / gyration for x in ca]
    for values in (counts, radial):
        for segment in np.array_split(np.arange(n), 8):
            out.append(float(np.mean([values[i] for i in segment])) if len(segment) else 0.0)
    return np.asarray(out)


@pytest.mark.parametrize(("length", "seed"), [(40, 0), (13, 1), (90, 2)])
def test_summary_matches_the_loop_reference(length: int, seed: int) -> None:
    ca = _chain(length, seed)
    out = ca_summary(ca)
    assert out.shape == (SUMMARY_DIM,) == (158,) and out.dtype == np.float32
    np.testing.assert_allclose(out, _reference(ca), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_summary_invariant_to_rotation_and_translation(seed: int) -> None:
    ca = _chain(60, seed)
    moved = ca @ _rotation(seed + 10).T + np.array([12.0, -7.5, 30.0])
    np.testing.assert_allclose(ca_summary(moved), ca_summary(ca), atol=1e-6)


def test_summary_bands_and_angle_histogram_sum_to_one() -> None:
    out = ca_summary(_chain(50, 4)).astype(np.float64)
    np.testing.assert_allclose(out[:65].reshape(5, 13).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out[65:137].sum(), 1.0, atol=1e-6)


def test_summary_straight_chain_closed_form() -> None:
    """Residues 3.8 A apart on a line: a pair at separation k sits at 3.8 k A; every bond
    angle is pi (last angle bin) and every torsion undefined (0, the middle torsion bin)."""
    n = 30
    line = np.zeros((n, 3))
    line[:, 0] = 3.8 * np.arange(n)
    out = ca_summary(line).astype(np.float64)
    band_1_3 = out[:13]  # separations 1 (3.8 A, bin 1) and 2 (7.6 A, bin 3)
    expected = np.zeros(13)
    expected[1], expected[3] = (n - 1) / (2 * n - 3), (n - 2) / (2 * n - 3)
    np.testing.assert_allclose(band_1_3, expected, atol=1e-6)
    assert out[65 + 5 * 12 + 6] == pytest.approx(1.0)  # angle bin 5, torsion bin 6 (0 rad)
    assert out[137 + 3] == 0.0  # no contacts: relative contact order 0
    assert out[137 + 4] == 0.0


@pytest.mark.parametrize("length", [1, 2, 3])
def test_summary_short_chains_are_finite(length: int) -> None:
    out = ca_summary(_chain(length, 5))
    assert np.isfinite(out).all()
    assert not out[65:137].any()  # no residue has a torsion
    if length == 1:
        assert not out[:65].any()


def test_summary_featurizer_encodes_rows() -> None:
    featurizer = create_featurizer("ca_summary")
    items = [_chain(20, 1), _chain(35, 2)]
    out = featurizer.encode(items, progress=False)
    assert out.shape == (2, featurizer.dim)
    np.testing.assert_array_equal(out[1], ca_summary(items[1]))
    assert featurizer.cache_key(items) != featurizer.cache_key(items[::-1])


def test_summary_bad_coordinates_name_the_problem() -> None:
    with pytest.raises(InputError, match=r"\(L, 3\)"):
        ca_summary(np.zeros((5, 2)))
    with pytest.raises(InputError, match="NaN"):
        ca_summary(np.array([[0.0, 0.0, np.nan]]))
    with pytest.raises(InputError, match="structure 1"):
        create_featurizer("ca_summary").encode([_chain(5), np.zeros((0, 3))], progress=False)
