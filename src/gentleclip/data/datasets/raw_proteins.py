"""Raw protein data: PDB/mmCIF chains and FASTA files -> sequence/structure features.

Structures are read with biotite (imported on first use; ``pip install biotite``): the first
model, the first chain, and of it the amino-acid residues that have a C-alpha atom. The
sequence (three-letter codes mapped to one letter, unknown residues to ``X``) and the CA
coordinates come from the same residues, so ``len(chain.sequence) == len(chain.ca)``.

:func:`load_fasta_structures` pairs FASTA records with structure files by id (the file name
without its structure extensions equals the FASTA id) and featurizes both sides: side ``a``
the sequences (``unirep`` by default), side ``b`` the structures (``ca_summary`` by default;
``ca_geometry`` for the per-residue block of the ``residue_attention`` encoder).
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gentleclip.data.datasets.domain import DomainData
from gentleclip.data.io import error_summary
from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer, featurize

STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif")
_CIF_SUFFIXES = (".cif", ".mmcif")


@dataclass(frozen=True)
class Chain:
    """One protein chain: one-letter sequence and (L, 3) C-alpha coordinates in Angstrom."""

    id: str
    sequence: str
    ca: np.ndarray


def structure_id(path: str | Path) -> str | None:
    """File name without ``.pdb/.ent/.cif/.mmcif`` (and ``.gz``), or None for other files."""
    name = Path(path).name
    lower = name.lower()
    if lower.endswith(".gz"):
        name, lower = name[:-3], lower[:-3]
    for suffix in STRUCTURE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"{path}: structure file not found")
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        return path.read_text(encoding="utf-8", errors="replace")
    except (OSError, EOFError) as err:
        raise InputError(f"{path}: cannot read structure file ({err})") from err


def _atoms(path: Path) -> Any:
    """The first model of ``path`` as a biotite AtomArray."""
    try:
        from biotite.structure.io import pdb, pdbx
    except ImportError as err:
        raise InputError("reading PDB/mmCIF files needs biotite (`pip install biotite`)") from err
    text = _read_text(path)
    is_cif = path.name.lower().removesuffix(".gz").endswith(_CIF_SUFFIXES)
    try:
        if is_cif:
            return pdbx.get_structure(pdbx.CIFFile.read(io.StringIO(text)), model=1)
        return pdb.PDBFile.read(io.StringIO(text)).get_structure(model=1)
    except Exception as err:  # biotite raises assorted types for malformed files
        raise InputError(f"{path}: cannot parse structure ({type(err).__name__}: {err})") from err


def _one_letter(res_name: str) -> str:
    from biotite.sequence import ProteinSequence

    try:
        letter = ProteinSequence.convert_letter_3to1(str(res_name).upper())
    except KeyError:
        return "X"
    return letter if len(letter) == 1 and letter.isalpha() else "X"


def _first_per_residue(res_ids: np.ndarray, ins_codes: np.ndarray) -> np.ndarray:
    """Indices of the first CA of every (residue number, insertion code)."""
    seen: set[tuple[int, str]] = set()
    keep = []
    for index, key in enumerate(zip(res_ids.tolist(), ins_codes.tolist(), strict=True)):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    return np.asarray(keep, dtype=np.int64)


def read_chain(path: str | Path) -> Chain:
    """First chain of a PDB/mmCIF file (optionally gzipped): sequence and CA coordinates."""
    import biotite.structure as struc

    path = Path(path)
    atoms = _atoms(path)
    ca = atoms[struc.filter_amino_acids(atoms) & (atoms.atom_name == "CA")]
    if ca.array_length() == 0:
        raise InputError(f"{path}: no amino-acid residue with a C-alpha atom")
    ca = ca[ca.chain_id == ca.chain_id[0]]
    ca = ca[_first_per_residue(ca.res_id, ca.ins_code)]
    sequence = "".join(_one_letter(name) for name in ca.res_name)
    return Chain(structure_id(path) or path.stem, sequence, np.asarray(ca.coord, dtype=np.float64))


# gap and stop characters a sequence line may hold (whitespace is removed separately)
_NOT_RESIDUES = str.maketrans("", "", "-.*")


def read_fasta(path: str | Path) -> dict[str, str]:
    """FASTA records as ``{id: sequence}`` (id = first word of the header, upper-cased
    sequence, gaps/whitespace/stop ``*`` removed); duplicate or empty records raise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: FASTA file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as err:
        raise InputError(f"{path}: cannot read FASTA file ({error_summary(err)})") from err
    records: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith(">"):
            current = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
            if not current or current in records:
                raise InputError(f"{path}:{number}: empty or duplicate FASTA id {current!r}")
            records[current] = []
        elif line and current is None:
            raise InputError(f"{path}:{number}: sequence line before the first '>' header")
        elif line:
            records[current].append("".join(line.split()).translate(_NOT_RESIDUES))
    out = {key: "".join(parts).upper() for key, parts in records.items()}
    empty = [key for key, seq in out.items() if not seq]
    if not out or empty:
        raise InputError(f"{path}: no FASTA records, or empty sequence(s) {empty[:3]}")
    return out


def read_bags(path: str | Path) -> dict[str, str]:
    """``id,bag`` CSV (an optional ``id,bag`` header line) as ``{id: bag}``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: bag CSV not found")
    bags: dict[str, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error, OSError) as err:
        raise InputError(f"{path}: cannot read bag CSV ({error_summary(err)})") from err
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and [c.strip().lower() for c in row] == ["id", "bag"]):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InputError(f"{path}:{number}: expected 'id,bag', got {row!r}")
        key, bag = row[0].strip(), row[1].strip()
        if bags.setdefault(key, bag) != bag:
            raise InputError(f"{path}:{number}: id {key!r} is already in bag {bags[key]!r}")
    return bags


def match_structures(ids: list[str], structure_dir: str | Path) -> dict[str, Path]:
    """``{id: file}`` for the ids that have a structure file in ``structure_dir``."""
    directory = Path(structure_dir)
    if not directory.is_dir():
        raise InputError(f"{directory}: structure directory not found")
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        key = structure_id(path)
        if key is not None and path.is_file():
            files.setdefault(key, path)
    matched = {key: files[key] for key in ids if key in files}
    missing = [key for key in ids if key not in files]
    if not matched:
        raise InputError(
            f"no FASTA id has a structure file in {directory} (e.g. {ids[0]!r} needs "
            f"{ids[0]}.pdb, .pdb.gz, .cif or .cif.gz)"
        )
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(ids)} FASTA ids have no structure file and are skipped: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}",
            stacklevel=2,
        )
    return matched


def _groups(ids: list[str], bags_csv: str | Path | None) -> np.ndarray | None:
    if bags_csv is None:
        return None
    bags = read_bags(bags_csv)
    missing = [key for key in ids if key not in bags]
    if missing:
        raise InputError(f"{bags_csv}: no bag for id(s) {', '.join(missing[:5])}")
    return np.unique([bags[key] for key in ids], return_inverse=True)[1].astype(np.int64)


def load_fasta_structures(
    fasta: str | Path,
    structure_dir: str | Path,
    *,
    bags_csv: str | Path | None = None,
    seq_featurizer: str = "unirep",
    struct_featurizer: str = "ca_summary",
    seq_kwargs: Mapping[str, Any] | None = None,
    struct_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> DomainData:
    """Pair FASTA sequences (side ``a``) with their structure files (side ``b``).

    Raises:
        InputError: missing files, no FASTA id with a structure, unparsable structures,
            or ids missing from ``bags_csv``.
    """
    records = read_fasta(fasta)
    files = match_structures(list(records), structure_dir)
    ids = list(files)
    chains = [read_chain(files[key]) for key in ids]
    seq_feat = create_featurizer(seq_featurizer, **dict(seq_kwargs or {}))
    struct_feat = create_featurizer(struct_featurizer, **dict(struct_kwargs or {}))
    a = featurize(seq_feat, [records[key] for key in ids], progress=progress)
    b = featurize(struct_feat, [chain.ca for chain in chains], progress=progress)
    return DomainData(
        name=Path(fasta).stem,
        a=a,
        b=b,
        side_names=("sequence", "structure"),
        groups=_groups(ids, bags_csv),
        source=f"{fasta} + {structure_dir}",
    )
