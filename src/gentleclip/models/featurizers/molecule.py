"""Molecule featurizer "morgan": RDKit Morgan (ECFP-style) fingerprints from SMILES strings.

Uses ``rdkit.Chem.rdFingerprintGenerator`` (radius 2 and 2048 bits by default, i.e. ECFP4).
Bits come out as float32 0/1, or hashed substructure counts with ``counts=True``. A SMILES
RDKit cannot parse (or an empty one) makes :meth:`MorganFeaturizer.encode` raise InputError
naming the first few; callers that prefer to drop such rows call
:meth:`MorganFeaturizer.valid_mask` first and keep the rows marked True. RDKit is optional
and imported only when used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer
from gentleclip.models.featurizers.registry import register_featurizer

RDKIT_INSTALL_HINT = "pip install rdkit (or run `gentleclip data install molecules`)"
_SHOWN_INVALID = 3


def _require_rdkit() -> None:
    if importlib.util.find_spec("rdkit") is None:
        raise InputError(f"featurizer 'morgan' needs RDKit: {RDKIT_INSTALL_HINT}")


def parse_smiles(smiles: Sequence[str]) -> list[Any]:
    """RDKit molecules, None where a SMILES is empty or unparsable (RDKit's log silenced)."""
    from rdkit import Chem, rdBase

    molecules: list[Any] = []
    with rdBase.BlockLogs():
        for text in smiles:
            valid = isinstance(text, str) and text.strip() != ""
            molecules.append(Chem.MolFromSmiles(text) if valid else None)
    return molecules


class MorganFeaturizer(Featurizer):
    """SMILES -> (N, n_bits) float32 Morgan fingerprint (bits 0/1, or counts)."""

    name = "morgan"
    version = "1"

    def __init__(self, *, radius: int = 2, n_bits: int = 2048, counts: bool = False) -> None:
        _check_positive_int("radius", radius, minimum=0)
        _check_positive_int("n_bits", n_bits, minimum=1)
        if not isinstance(counts, bool):
            raise InputError(f"morgan counts must be True or False, got {counts!r}")
        _require_rdkit()
        self.radius = radius
        self.n_bits = n_bits
        self.counts = counts

    @property
    def dim(self) -> int:
        return self.n_bits

    def settings(self) -> dict[str, Any]:
        return {"radius": self.radius, "n_bits": self.n_bits, "counts": self.counts}

    def valid_mask(self, smiles: Sequence[str]) -> np.ndarray:
        """(N,) bool: True where RDKit parses the SMILES."""
        return np.array([mol is not None for mol in parse_smiles(smiles)], dtype=bool)

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        from rdkit.Chem import rdFingerprintGenerator
        from tqdm.auto import tqdm

        molecules = parse_smiles(items)
        _raise_on_invalid(items, molecules)
        generator = rdFingerprintGenerator.GetMorganGenerator(
            radius=self.radius, fpSize=self.n_bits
        )
        fingerprint = (
            generator.GetCountFingerprintAsNumPy if self.counts else generator.GetFingerprintAsNumPy
        )
        out = np.zeros((len(molecules), self.n_bits), dtype=np.float32)
        for row, mol in enumerate(tqdm(molecules, desc="morgan", disable=not progress)):
            out[row] = fingerprint(mol)
        return out


def _raise_on_invalid(items: Sequence[Any], molecules: list[Any]) -> None:
    """InputError naming the first few SMILES RDKit could not parse."""
    bad = [i for i, mol in enumerate(molecules) if mol is None]
    if bad:
        shown = ", ".join(f"{items[i]!r} (item {i})" for i in bad[:_SHOWN_INVALID])
        more = f" and {len(bad) - _SHOWN_INVALID} more" if len(bad) > _SHOWN_INVALID else ""
        raise InputError(f"{len(bad)} invalid SMILES: {shown}{more}")


def _check_positive_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"morgan {name} must be an integer >= {minimum}, got {value!r}")


@register_featurizer("morgan")
def _make_morgan(**kwargs: Any) -> MorganFeaturizer:
    return MorganFeaturizer(**kwargs)
