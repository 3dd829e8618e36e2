"""CSV/TSV reading shared by the raw-data formats (image captions, SMILES, ...)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gentleclip.data.io import error_summary
from gentleclip.errors import InputError


def index_labels(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(int64 index per value, sorted distinct names)."""
    names = sorted(set(values))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[v] for v in values], dtype=np.int64), names


def read_table(csv_path: Path, required: Sequence[str], what: str) -> list[dict[str, str]]:
    """Rows as dicts of stripped strings (tab-separated if the header has a tab, else commas).

    InputError for a missing file, missing required columns or no rows; ``what`` names the
    file's role in messages (e.g. "image CSV").
    """
    if not csv_path.is_file():
        raise InputError(f"{what} not found: {csv_path}")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            header = handle.readline()
            handle.seek(0)
            reader = csv.DictReader(handle, delimiter="\t" if "\t" in header else ",")
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in columns]
            if missing:
                raise InputError(f"{csv_path}: missing column(s) {missing}; found {columns}")
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (UnicodeDecodeError, csv.Error, OSError) as err:
        raise InputError(f"{csv_path}: cannot read {what} ({error_summary(err)})") from err
    if not rows:
        raise InputError(f"{csv_path}: no rows under the header")
    return rows


def check_filled(csv_path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str]) -> None:
    """InputError naming the first lines with an empty cell in one of ``columns``."""
    for column in columns:
        empty = [i + 2 for i, row in enumerate(rows) if not row.get(column)]
        if empty:
            raise InputError(f"{csv_path}: empty {column!r} on line(s) {empty[:5]}")
