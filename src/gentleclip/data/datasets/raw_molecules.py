"""Raw molecule-name pairs from a SMILES CSV -> :class:`DomainData`.

The CSV has a header naming a SMILES column and a name (free text) column, plus optional bag
(natural bag id) and label (class name, evaluation only) columns; the bag and label columns
are used when present and ignored otherwise (pass None to ignore them even when present).
Fields are comma-separated, or tab-separated when the header line contains a tab. Side a
holds molecule fingerprints, side b name/description text features. Invalid SMILES raise
InputError naming the first few, unless ``drop_invalid=True`` drops those rows. The label
strings themselves serve as zero-shot prompts (e.g. a label "halogenated solvent").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.tables import check_filled, index_labels, read_table
from gentleclip.errors import InputError
from gentleclip.models.featurizers import Featurizer, create_featurizer, featurize


def valid_smiles_mask(featurizer: Featurizer, smiles: Sequence[str]) -> np.ndarray:
    """(N,) bool from the featurizer's ``valid_mask`` (all True if it has none)."""
    check = getattr(featurizer, "valid_mask", None)
    if check is None:
        return np.ones(len(smiles), dtype=bool)
    return np.asarray(check(list(smiles)), dtype=bool)


def encode_molecule_text(
    smiles: Sequence[str],
    texts: Sequence[str],
    *,
    mol_featurizer: Featurizer,
    text_featurizer: str,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(molecule features, text features) through the cached featurizers."""
    a = featurize(mol_featurizer, list(smiles), progress=progress)
    b = featurize(create_featurizer(text_featurizer), list(texts), progress=progress)
    return a, b


def read_smiles_csv(csv_path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows as dicts of stripped strings; InputError for a missing file/columns or no rows."""
    return read_table(csv_path, required, "SMILES CSV")


def _present(rows: Sequence[dict[str, str]], column: str | None) -> str | None:
    return column if column is not None and column in rows[0] else None


def load_smiles_csv(
    csv_path: str | Path,
    *,
    smiles_column: str = "smiles",
    name_column: str = "name",
    bag_column: str | None = "bag",
    label_column: str | None = "label",
    mol_featurizer: str = "morgan",
    text_featurizer: str = "minilm",
    drop_invalid: bool = False,
    progress: bool = True,
) -> DomainData:
    """Molecule-text pairs from a SMILES CSV, encoded by frozen featurizers (side a: molecule).

    Raises:
        InputError: missing file or columns, no rows, empty cells, invalid SMILES (unless
            ``drop_invalid``), or no valid row left.
    """
    csv_path = Path(csv_path)
    rows = read_smiles_csv(csv_path, [smiles_column, name_column])
    bag, label = _present(rows, bag_column), _present(rows, label_column)
    check_filled(csv_path, rows, [c for c in (name_column, bag, label) if c])
    molecules = create_featurizer(mol_featurizer)
    if drop_invalid:
        keep = valid_smiles_mask(molecules, [row[smiles_column] for row in rows])
        rows = [row for row, ok in zip(rows, keep, strict=True) if ok]
        if not rows:
            raise InputError(f"{csv_path}: no row has a valid SMILES")
    a, b = encode_molecule_text(
        [row[smiles_column] for row in rows],
        [row[name_column] for row in rows],
        mol_featurizer=molecules,
        text_featurizer=text_featurizer,
        progress=progress,
    )
    label_sets = []
    if label:
        labels, names = index_labels([row[label] for row in rows])
        label_sets.append(LabelSet("label", labels, names, prompts=list(names)))
    return DomainData(
        name=csv_path.stem,
        a=a,
        b=b,
        side_names=("molecule", "text"),
        label_sets=label_sets,
        groups=index_labels([row[bag] for row in rows])[0] if bag else None,
        text_side="b",
        text_featurizer=text_featurizer,
        source=f"user CSV {csv_path}",
        licence="as set by the data's owner (user-supplied)",
    )
