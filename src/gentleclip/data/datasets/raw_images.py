"""Raw image-caption pairs in the open_clip CSV convention -> :class:`DomainData`.

The CSV has a header with columns ``filepath`` and ``caption`` plus optional ``bag`` (natural
bag id, any string or number) and ``label`` (class name, evaluation only). Fields are
comma-separated, or tab-separated when the header line contains a tab (open_clip's default).
Relative file paths are resolved against ``image_root`` when given, else the CSV's folder.
Side a holds image features, side b caption features; duplicate rows are kept as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer, featurize

REQUIRED_COLUMNS = ("filepath", "caption")


def encode_image_text(
    image_paths: Sequence[Path],
    captions: Sequence[str],
    *,
    image_featurizer: str,
    text_featurizer: str,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(image features, caption features) through the cached featurizers."""
    images = featurize(create_featurizer(image_featurizer), list(image_paths), progress=progress)
    texts = featurize(create_featurizer(text_featurizer), list(captions), progress=progress)
    return images, texts


def index_labels(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(int64 index per value, sorted distinct names)."""
    names = sorted(set(values))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[v] for v in values], dtype=np.int64), names


def read_caption_csv(csv_path: Path) -> list[dict[str, str]]:
    """Rows of the CSV as dicts; InputError for a missing file, columns or empty cells."""
    if not csv_path.is_file():
        raise InputError(f"image CSV not found: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter="\t" if "\t" in header else ",")
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InputError(f"{csv_path}: missing column(s) {missing}; found {columns}")
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if not rows:
        raise InputError(f"{csv_path}: no rows under the header")
    for column in ("filepath", "caption", "bag", "label"):
        if column not in columns:
            continue
        empty = [i + 2 for i, row in enumerate(rows) if not row.get(column)]
        if empty:
            raise InputError(f"{csv_path}: empty {column!r} on line(s) {empty[:5]}")
    return rows


def resolve_images(rows: Sequence[dict[str, str]], root: Path) -> list[Path]:
    """Absolute image paths; InputError naming the first few that do not exist."""
    paths = [Path(row["filepath"]).expanduser() for row in rows]
    paths = [p if p.is_absolute() else root / p for p in paths]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise InputError(f"{len(absent)} image file(s) not found, e.g. {absent[:3]}")
    return paths


def load_image_csv(
    csv_path: str | Path,
    *,
    image_root: str | Path | None = None,
    image_featurizer: str = "efficientnet_lite0",
    text_featurizer: str = "minilm",
    progress: bool = True,
) -> DomainData:
    """Image-caption pairs from an open_clip-style CSV, encoded by frozen featurizers."""
    csv_path = Path(csv_path)
    rows = read_caption_csv(csv_path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    if not root.is_dir():
        raise InputError(f"image root is not a folder: {root}")
    paths = resolve_images(rows, root)
    captions = [row["caption"] for row in rows]
    a, b = encode_image_text(
        paths,
        captions,
        image_featurizer=image_featurizer,
        text_featurizer=text_featurizer,
        progress=progress,
    )
    groups = index_labels([row["bag"] for row in rows])[0] if "bag" in rows[0] else None
    label_sets = []
    if "label" in rows[0]:
        labels, names = index_labels([row["label"] for row in rows])
        prompts = [f"a picture of {name}" for name in names]
        label_sets.append(LabelSet("label", labels, names, prompts))
    return DomainData(
        name=csv_path.stem,
        a=a,
        b=b,
        side_names=("image", "text"),
        label_sets=label_sets,
        groups=groups,
        text_side="b",
        text_featurizer=text_featurizer,
        source=f"user CSV {csv_path}",
        licence="as set by the data's owner (user-supplied)",
    )
