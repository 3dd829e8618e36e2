"""ca_geometry featurizer: invariances, channel values against brute force, padding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer
from gentleclip.models.featurizers.structure import CA_CHANNELS, ca_geometry

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
