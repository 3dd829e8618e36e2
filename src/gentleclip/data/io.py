"""Reading and writing single feature arrays (``.npy``) with one-line errors.

Every array that enters gentleclip from disk goes through :func:`as_feature_matrix`, so the
rules are the same everywhere: two-dimensional, real-valued, at least one column, finite
after the cast to float32 (which also catches values beyond float32 range).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gentleclip.errors import InputError

_NUMERIC_KINDS = "biuf"


def first_bad_row(values: np.ndarray) -> int | None:
    """Index of the first row holding NaN or Inf, or ``None`` when all values are finite."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    rows = ~finite.reshape(finite.shape[0], -1).all(axis=1)
    return int(np.flatnonzero(rows)[0])


def as_feature_matrix(values: np.ndarray, name: str) -> np.ndarray:
    """Validate a feature array and return it as float32.

    Args:
        values: the array as loaded.
        name: how the user knows it (a file name), used in error messages.

    Raises:
        InputError: not 2-D, no columns, non-numeric dtype, or NaN/Inf (first row named).
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise InputError(
            f"{name}: expected a 2-D array (rows x features), got shape {values.shape}"
        )
    if values.shape[1] == 0:
        raise InputError(f"{name}: has 0 feature columns (shape {values.shape})")
    if values.dtype.kind not in _NUMERIC_KINDS:
        raise InputError(f"{name}: expected real numbers, got dtype {values.dtype}")
    with np.errstate(over="ignore"):  # overflow to Inf is reported just below
        out = values.astype(np.float32)
    bad = first_bad_row(out)
    if bad is not None:
        raise InputError(
            f"{name}: contains NaN or Inf (or a value beyond float32), first at row {bad}"
        )
    return out


def error_summary(exc: BaseException, limit: int = 160) -> str:
    """``"Type: message"`` of ``exc`` on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_npy(path: str | os.PathLike[str], name: str | None = None) -> np.ndarray:
    """Load one ``.npy`` array without pickle, turning every failure into an InputError."""
    path = Path(path)
    label = name or str(path)
    if path.is_dir():
        raise InputError(f"{label}: is a directory, expected a .npy file")
    if not path.is_file():
        raise InputError(f"{label}: file not found")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, EOFError) as exc:
        raise InputError(f"{label}: cannot read file ({error_summary(exc)})") from exc
    except Exception as exc:  # numpy, zipfile, tokenize raise assorted types for broken files
        if "pickle" in str(exc).lower():
            raise InputError(
                f"{label}: not a plain .npy array (pickled objects or another format)"
            ) from exc
        raise InputError(f"{label}: not a readable .npy array ({error_summary(exc)})") from exc
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise InputError(f"{label}: is an .npz archive; expected a single .npy array")
    return loaded


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a 2-D float feature array from ``.npy`` as float32 (used by ``gentleclip embed``)."""
    return as_feature_matrix(read_npy(path), str(path))


def check_output_dir(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """``path`` as a Path; InputError (naming ``what``) when it is a file or a file stands
    where one of its parent directories should be. Nothing is created."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(f"{what} {target} is a file, not a directory")
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(f"{what} {target}: {blocker} is a file, not a directory")
    return target


def check_output_file(
    path: str | os.PathLike[str], what: str = "", *, parent_must_exist: bool = False
) -> Path:
    """``path`` as a Path; InputError (naming ``what``, e.g. ``--json``) unless it can be
    written as a file: not a directory, no file where a parent directory should be, the
    parent existing when ``parent_must_exist`` (writers that create parents pass False), and
    an existing parent writable. Called before any work, so nothing fails after it."""
    target = Path(path)
    label = f"{what} {target}" if what else str(target)
    if target.is_dir():
        raise InputError(f"{label}: is a directory; give a file name")
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(f"{label}: {blocker} is a file, not a directory")
    if parent_must_exist and not target.parent.is_dir():
        raise InputError(f"{label}: directory {target.parent} does not exist")
    if target.parent.is_dir() and not os.access(target.parent, os.W_OK):
        raise InputError(f"{label}: directory {target.parent} is not writable")
    return target


def save_array_atomic(path: str | os.PathLike[str], values: np.ndarray) -> None:
    """Write ``values`` to ``path`` in ``.npy`` format; readers never see a partial file."""
    path = Path(path)
    values = np.asarray(values)
    if values.dtype.kind == "O":
        raise InputError(f"{path}: refusing to save an object array")
    check_output_file(path, parent_must_exist=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, values, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_folder_atomic(
    directory: str | os.PathLike[str], what: str, files: dict[str, Callable[[Path], None]]
) -> Path:
    """Write a model folder: each ``files[name](path)`` writes one file into a temporary folder
    inside ``directory`` (created if needed); only when all are written are they moved into
    place with ``os.replace``, so a failure never leaves a half-written file behind."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise InputError(f"cannot save {what}: {path} is not a directory") from err
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=path))
    try:
        for name, write in files.items():
            write(tmp / name)
        for name in files:
            os.replace(tmp / name, path / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_json_file(path: Path, obj: dict) -> None:
    """``obj`` as indented JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json_object(file: Path, what: str) -> dict:
    """The JSON object in ``file``; missing, unreadable, non-UTF-8, malformed or non-object
    content is an InputError naming ``what`` and the file."""
    if not file.is_file():
        raise InputError(f"missing {what} file: {file}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read {what} {file}: {err}") from err
    if not isinstance(data, dict):
        raise InputError(f"{what} {file} must hold a JSON object")
    return data
