"""Property-based bad-input tests of the loaders: every fault is one InputError line.

The loaders (``load_full_npz``, ``load_dataset_dir``, ``read_npy``, and the FASTA / bag CSV /
table readers of the raw-data formats) must either return valid data or raise
:class:`InputError` with a one-line message naming the problem; never another exception.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gentleclip.data.datasets.raw_proteins import read_bags, read_fasta
from gentleclip.data.datasets.tables import read_table
from gentleclip.data.io import read_npy
from gentleclip.data.regimes import Regime, load_dataset_dir, load_full_npz
from gentleclip.errors import InputError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_line_error(call: Callable[[], Any], pattern: str) -> str:
    """Run ``call``; it must raise InputError whose single-line message matches ``pattern``."""
    with pytest.raises(InputError) as caught:
        call()
    message = str(caught.value)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert re.search(pattern, message), (pattern, message)
    return message


def _load_or_input_error(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or None when it raised a one-line InputError (anything else fails)."""
    try:
        return call()
    except InputError as err:
        assert str(err) and "\n" not in str(err), repr(str(err))
        return None


# ------------------------------------------------------------------ full .npz


@FUZZ
@given(data=st.data())
def test_full_npz_faults_are_one_line_input_errors(fuzz_kit: SimpleNamespace, data) -> None:
    arrays, pattern = data.draw(fuzz_kit.full_npz_fault())
    with tempfile.TemporaryDirectory() as tmp:
        path = fuzz_kit.write_npz(Path(tmp) / "full.npz", arrays)
        _one_line_error(lambda: load_full_npz(path), pattern)


@FUZZ
@given(data=st.data())
def test_valid_full_npz_loads_as_exact_float32(fuzz_kit: SimpleNamespace, data) -> None:
    """Finite values of any real dtype and magnitude within float32 load unchanged."""
    arrays = data.draw(fuzz_kit.valid_full())
    with tempfile.TemporaryDirectory() as tmp:
        a, b, labels = load_full_npz(fuzz_kit.write_npz(Path(tmp) / "full.npz", arrays))
    for loaded, given_ in ((a, arrays["a"]), (b, arrays["b"])):
        assert loaded.dtype == np.float32 and loaded.shape == given_.shape
        assert np.isfinite(loaded).all()
        np.testing.assert_array_equal(loaded, given_.astype(np.float32))
    assert labels is not None and labels.tolist() == arrays["labels"].tolist()


def _zip_variants() -> dict[str, bytes]:
    """A small full archive, stored and deflated."""
    arrays = {"a": np.arange(24.0).reshape(8, 3), "b": np.ones((8, 2)), "labels": np.arange(8)}
    out = {}
    for name, save in (("stored", np.savez), ("deflated", np.savez_compressed)):
        buffer = io.BytesIO()
        save(buffer, **arrays)
        out[name] = buffer.getvalue()
    return out


_ZIPS = _zip_variants()


@FUZZ
@given(data=st.data())
def test_corrupted_npz_bytes_load_or_raise_input_error(fuzz_kit: SimpleNamespace, data) -> None:
    """Truncation or flipped bytes anywhere in a (compressed) archive: never a raw exception."""
    content = bytearray(data.draw(st.sampled_from(sorted(_ZIPS.items())))[1])
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "full.npz"
        path.write_bytes(bytes(content))
        loaded = _load_or_input_error(lambda: load_full_npz(path))
    if loaded is not None:  # a flip in a spot nobody checks: the data must still be valid
        a, b, _ = loaded
        assert a.dtype == b.dtype == np.float32 and len(a) == len(b)
        assert np.isfinite(a).all() and np.isfinite(b).all()


def test_known_zip_breakages_name_the_file(tmp_path: Path, fuzz_kit: SimpleNamespace) -> None:
    """Regressions: BadZipFile, zlib.error, NotImplementedError escaped as tracebacks."""
    stored = _ZIPS["stored"]
    cases = {
        "notzip.npz": b"PK\x03\x04garbage",
        "cut.npz": stored[: len(stored) // 2],
        "crc.npz": stored[:200] + bytes([stored[200] ^ 0xFF]) + stored[201:],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        _one_line_error(lambda n=name: load_full_npz(tmp_path / n), rf"{name}: .*unreadable")
    unknown_method = bytearray(stored)  # compression method 99 (AES): NotImplementedError
    central = unknown_method.find(b"PK\x01\x02")
    unknown_method[central + 10 : central + 12] = (99).to_bytes(2, "little")
    (tmp_path / "method.npz").write_bytes(bytes(unknown_method))
    _one_line_error(lambda: load_full_npz(tmp_path / "method.npz"), r"NotImplementedError")


def test_directory_or_missing_npz(tmp_path: Path) -> None:
    _one_line_error(lambda: load_full_npz(tmp_path), "is a directory, expected an .npz file")
    _one_line_error(lambda: load_full_npz(tmp_path / "nope.npz"), r"nope\.npz: file not found")


# ------------------------------------------------------------------ single .npy


def _header_claiming(shape: tuple[int, ...]) -> bytes:
    """A .npy file whose header claims ``shape`` (float64) but which holds 4 values."""
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + np.zeros(4).tobytes()


@pytest.mark.parametrize("shape", [(10**13, 3), (2**62, 4), (-1, 2), (5,)])
def test_lying_npy_header_is_an_input_error(tmp_path: Path, shape: tuple[int, ...]) -> None:
    """A header claiming 240 TB (MemoryError before the fix) or a negative shape."""
    path = tmp_path / "x.npy"
    path.write_bytes(_header_claiming(shape))
    _one_line_error(lambda: read_npy(path), r"x\.npy: not a readable \.npy array")


@FUZZ
@given(data=st.data())
def test_corrupted_npy_bytes_load_or_raise_input_error(fuzz_kit: SimpleNamespace, data) -> None:
    """Regression: a broken header made numpy's tokenizer raise TokenError."""
    content = bytearray(fuzz_kit.npy_bytes(np.arange(12.0).reshape(4, 3)))
    for _ in range(data.draw(st.integers(1, 3))):
        content[data.draw(st.integers(0, 127))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npy"
        path.write_bytes(bytes(content))
        loaded = _load_or_input_error(lambda: read_npy(path))
    assert loaded is None or isinstance(loaded, np.ndarray)


def test_unreadable_file_monkeypatched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OS-level read failure (what chmod 000 gives a non-root user) is an InputError."""
    np.save(tmp_path / "paired_a.npy", np.ones((2, 2)))
    np.save(tmp_path / "paired_b.npy", np.ones((2, 2)))

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(np, "load", refuse)
    _one_line_error(lambda: load_dataset_dir(tmp_path), r"paired_a\.npy: cannot read file")
    np.savez(tmp_path / "full.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    _one_line_error(lambda: load_full_npz(tmp_path / "full.npz"), "cannot read archive")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads chmod 000 files")
def test_unreadable_file_chmod(tmp_path: Path) -> None:
    np.save(tmp_path / "paired_a.npy", np.ones((2, 2)))
    np.save(tmp_path / "paired_b.npy", np.ones((2, 2)))
    (tmp_path / "paired_b.npy").chmod(0)
    try:
        _one_line_error(lambda: load_dataset_dir(tmp_path), r"paired_b\.npy: cannot read")
    finally:
        (tmp_path / "paired_b.npy").chmod(0o600)


# ------------------------------------------------------------------ dataset directory


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dataset_dir_faults_are_one_line_input_errors(fuzz_kit: SimpleNamespace, data) -> None:
    files, pattern = data.draw(fuzz_kit.dataset_fault())
    with tempfile.TemporaryDirectory() as tmp:
        fuzz_kit.write_files(Path(tmp), files)
        _one_line_error(lambda: load_dataset_dir(tmp), pattern)


@FUZZ
@given(data=st.data())
def test_valid_dataset_dirs_load_unchanged(fuzz_kit: SimpleNamespace, data) -> None:
    """0 pairs, 1-row arrays, any int64 bag ids, many rows per bag, huge finite values."""
    files = data.draw(fuzz_kit.valid_dataset())
    with tempfile.TemporaryDirectory() as tmp:
        fuzz_kit.write_files(Path(tmp), files)
        loaded = load_dataset_dir(tmp)
    for key in fuzz_kit.features:
        values = getattr(loaded, key)
        assert values.dtype == np.float32 and np.isfinite(values).all()
        np.testing.assert_array_equal(values, files[key].astype(np.float32))
    has_bags = fuzz_kit.bags[0] in files
    assert loaded.regime == (Regime.BAGS if has_bags else Regime.UNPAIRED)
    if has_bags:
        assert loaded.bags_a.tolist() == files[fuzz_kit.bags[0]].tolist()
        assert loaded.bags_b.tolist() == files[fuzz_kit.bags[1]].tolist()
        assert loaded.n_bags == len(set(files[fuzz_kit.bags[0]].tolist()))


# ------------------------------------------------------------------ raw text formats

_TEXT = st.text(alphabet=st.sampled_from(list(">,\t\n\r\"' ACGTX-*.;é\x00id,bag")), max_size=80)
_BYTES = st.binary(max_size=80)


@FUZZ
@given(content=st.one_of(_TEXT.map(lambda t: t.encode("utf-8")), _BYTES))
def test_fasta_reader_on_garbage(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.fasta"
        path.write_bytes(content)
        records = _load_or_input_error(lambda: read_fasta(path))
    if records is not None:
        assert records and all(k and v and v == v.upper() for k, v in records.items())
        assert not any(c in v for v in records.values() for c in "-.* \t")


@FUZZ
@given(content=st.one_of(_TEXT.map(lambda t: t.encode("utf-8")), _BYTES))
def test_bag_csv_reader_on_garbage(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bags.csv"
        path.write_bytes(content)
        bags = _load_or_input_error(lambda: read_bags(path))
    if bags is not None:
        assert all(k.strip() == k and k and v.strip() == v and v for k, v in bags.items())


@FUZZ
@given(content=st.one_of(_TEXT.map(lambda t: "smiles,name\n" + t), _TEXT).map(str.encode) | _BYTES)
def test_table_reader_on_garbage(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        path.write_bytes(content)
        rows = _load_or_input_error(lambda: read_table(path, ["smiles", "name"], "SMILES CSV"))
    if rows is not None:
        assert rows and all({"smiles", "name"} <= set(row) for row in rows)
        assert all(isinstance(v, str) and v == v.strip() for row in rows for v in row.values())


def test_text_readers_known_breakages(tmp_path: Path) -> None:
    """Regressions: non-UTF-8 bytes and oversized CSV fields escaped as tracebacks."""
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00>id\nACGT\n")
    _one_line_error(lambda: read_fasta(binary), "cannot read FASTA file")
    _one_line_error(lambda: read_bags(binary), "cannot read bag CSV")
    _one_line_error(lambda: read_table(binary, ["smiles"], "SMILES CSV"), "cannot read SMILES")
    bags = tmp_path / "bags.csv"
    bags.write_text("id,bag\np1,x\np2,y\np1,x\n")
    assert read_bags(bags) == {"p1": "x", "p2": "y"}  # a repeated identical line is harmless
    bags.write_text("id,bag\np1,x\np2,y\np1,y\n")  # was: the last line silently won
    _one_line_error(lambda: read_bags(bags), r"bags\.csv:4: id 'p1' is already in bag 'x'")
    huge = tmp_path / "huge.csv"
    huge.write_text("smiles,name\nC," + "x" * 200_000 + "\n")
    _one_line_error(lambda: read_table(huge, ["smiles"], "SMILES CSV"), "field larger")
