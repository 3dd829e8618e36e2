"""The "morgan" molecule featurizer: option checks, install error, real RDKit fingerprints."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer

_REAL_FIND_SPEC = importlib.util.find_spec
SMILES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "[Na+].[Cl-]", "C"]


def test_missing_rdkit_names_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "rdkit" else _REAL_FIND_SPEC(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(InputError, match="pip install rdkit"):
        create_featurizer("morgan")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"radius": -1}, "radius"),
        ({"n_bits": 0}, "n_bits"),
        ({"n_bits": 2.5}, "n_bits"),
        ({"counts": "yes"}, "counts"),
        ({"chirality": True}, "bad options"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        create_featurizer("morgan", **options)


def _on_bits_reference(smiles: str, radius: int, n_bits: int) -> np.ndarray:
    """Bits through RDKit's bit-vector API (not the NumPy path the featurizer uses)."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    bits = np.zeros(n_bits, dtype=np.float64)
    bits[list(generator.GetFingerprint(Chem.MolFromSmiles(smiles)).GetOnBits())] = 1.0
    return bits


def test_bits_match_rdkit_bit_vectors() -> None:
    pytest.importorskip("rdkit")
    featurizer = create_featurizer("morgan", radius=2, n_bits=1024)
    out = featurizer.encode(SMILES, progress=False)
    assert out.shape == (5, 1024) and out.dtype == np.float32
    reference = np.stack([_on_bits_reference(s, 2, 1024) for s in SMILES])
    np.testing.assert_array_equal(out.astype(np.float64), reference)
    assert out[4].sum() == 1.0  # methane: a single atom environment


def test_counts_agree_with_bits_and_radius_zero_counts_atoms() -> None:
    pytest.importorskip("rdkit")
    bits = create_featurizer("morgan").encode(SMILES, progress=False)
    counts = create_featurizer("morgan", counts=True).encode(SMILES, progress=False)
    np.testing.assert_array_equal(counts > 0, bits > 0)
    atoms = create_featurizer("morgan", radius=0, counts=True).encode(["CCO"], progress=False)
    assert atoms.sum() == 3.0  # radius 0: one environment per heavy atom
    assert counts[1].max() >= 6  # benzene: six identical aromatic CH environments at radius 0


def test_settings_change_the_cache_key() -> None:
    pytest.importorskip("rdkit")
    keys = {
        create_featurizer("morgan", **options).cache_key(SMILES)
        for options in ({}, {"radius": 3}, {"n_bits": 1024}, {"counts": True})
    }
    assert len(keys) == 4


def test_invalid_smiles_named_and_valid_mask() -> None:
    pytest.importorskip("rdkit")
    featurizer = create_featurizer("morgan")
    smiles = ["CCO", "C1CC", "", "not-a-smiles", "c1ccccc1", "Xx", "CC(C"]
    mask = featurizer.valid_mask(smiles)
    np.testing.assert_array_equal(mask, [True, False, False, False, True, False, False])
    with pytest.raises(InputError, match=r"5 invalid SMILES: 'C1CC' \(item 1\).* and 2 more"):
        featurizer.encode(smiles, progress=False)
