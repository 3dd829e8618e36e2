"""Raw image-caption pairs in the open_clip CSV convention -> :class:`DomainData`.

The CSV has a header with columns ``filepath`` and ``caption`` plus optional ``bag`` (natural
bag id, any string or number) and ``label`` (class name, evaluation only). Fields are
comma-separated, or tab-separated when the header line contains a tab (open_clip's default).
Relative file paths are resolved against ``image_root`` when given, else the CSV's folder.
Side a holds image features, side b caption features; duplicate rows are kept as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.tables import check_filled, index_labels, read_table
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


def read_caption_csv(csv_path: Path) -> list[dict[str, str]]:
    """Rows of the CSV as dicts; InputError for a missing file, columns or empty cells."""
    rows = read_table(csv_path, REQUIRED_COLUMNS, "image CSV")
    check_filled(
        csv_path, rows, [c for c in ("filepath", "caption", "bag", "label") if c in rows[0]]
    )
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
