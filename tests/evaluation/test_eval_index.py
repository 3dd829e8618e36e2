"""faiss indexes (exact and IVF) against the chunked exact top-k, save/load and bad input."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.evaluation.index import (
    IDS_FILE,
    INDEX_FILE,
    META_FILE,
    build_index,
    build_index_from_array,
    check_index_destination,
    hit_counts,
    import_faiss,
    load_index,
    save_index,
)
from gentleclip.evaluation.retrieval import topk_indices

pytest.importorskip("faiss")


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    """Random rows on the unit sphere, float64."""
    z = np.random.default_rng(seed).normal(size=(rows, dim))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _reference(queries: np.ndarray, gallery: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by the evaluation's chunked search, in float64: (indices, scores)."""
    idx, val = topk_indices(torch.from_numpy(queries), torch.from_numpy(gallery), k, chunk_size=7)
    return idx.numpy(), val.numpy()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return _unit(1500, 24, seed=0), _unit(40, 24, seed=1)


def test_exact_equals_chunked_topk(data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    scores, indices = build_index_from_array(gallery, kind="exact").search(queries, 10)
    ref_idx, ref_val = _reference(queries, gallery, 10)
    assert indices.dtype == np.int64 and indices.shape == (40, 10)
    np.testing.assert_array_equal(indices, ref_idx)
    np.testing.assert_allclose(scores.astype(np.float64), ref_val, atol=1e-5, rtol=0)


def test_ivf_with_every_cell_probed_equals_exact(data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    vindex = build_index_from_array(gallery, kind="ivf", nlist=12, batch_size=256)
    scores, indices = vindex.search(queries, 10, nprobe=12)
    ref_idx, ref_val = _reference(queries, gallery, 10)
    np.testing.assert_array_equal(indices, ref_idx)
    np.testing.assert_allclose(scores.astype(np.float64), ref_val, atol=1e-5, rtol=0)
    _, one_cell = vindex.search(queries, 10, nprobe=1)
    assert (one_cell != ref_idx).any()  # probing one of 12 cells of random data misses some


def test_unnormalised_input_is_normalised(data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    scale = np.random.default_rng(2).uniform(0.5, 3.0, size=(len(gallery), 1))
    scores, indices = build_index_from_array(gallery * scale).search(queries * 5.0, 5)
    ref_idx, ref_val = _reference(queries, gallery, 5)
    np.testing.assert_array_equal(indices, ref_idx)
    np.testing.assert_allclose(scores.astype(np.float64), ref_val, atol=1e-5, rtol=0)


def test_streaming_build_embeds_at_most_one_batch(data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    sizes: list[int] = []

    def embed_rows(rows: slice | np.ndarray) -> np.ndarray:
        chunk = gallery[rows]
        sizes.append(len(chunk))
        return chunk * 2.0  # any positive scale: the index normalises

    vindex = build_index(embed_rows, len(gallery), 24, kind="ivf", nlist=8, batch_size=100)
    assert max(sizes) == 100 and sum(sizes) == len(gallery) + len(gallery)  # sample = all rows
    _, indices = vindex.search(queries, 3, nprobe=8)
    np.testing.assert_array_equal(indices, _reference(queries, gallery, 3)[0])


def test_save_load_round_trip(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    ids = np.array([f"item-{i}" for i in range(len(gallery))])
    vindex = build_index_from_array(gallery, kind="ivf", nlist=10, nprobe=3, side="a", ids=ids)
    save_index(vindex, tmp_path / "ix")
    loaded = load_index(tmp_path / "ix")
    assert loaded.meta == vindex.meta and loaded.meta.nprobe == 3 and loaded.meta.side == "a"
    np.testing.assert_array_equal(loaded.ids, ids)
    for a, b in zip(loaded.search(queries, 7), vindex.search(queries, 7), strict=True):
        np.testing.assert_array_equal(a, b)
    _, indices = loaded.search(queries, 7)
    np.testing.assert_array_equal(loaded.ids_of(indices), ids[indices])
    save_index(build_index_from_array(gallery), tmp_path / "ix")  # overwrite without ids
    assert not (tmp_path / "ix" / IDS_FILE).exists()
    assert load_index(tmp_path / "ix").ids is None
    assert sorted(p.name for p in (tmp_path / "ix").iterdir()) == [INDEX_FILE, META_FILE]


def test_ivf_pads_missing_results_with_minus_one_and_nan() -> None:
    gallery = _unit(60, 8, seed=3)
    vindex = build_index_from_array(gallery, kind="ivf", nlist=6, ids=np.arange(60) + 100)
    scores, indices = vindex.search(gallery[:2], 60, nprobe=1)
    assert (indices == -1).any() and (indices[:, 0] >= 0).all()
    counts = hit_counts(indices)
    assert counts.shape == (2,) and (counts < 60).all()
    for q, n in enumerate(counts):  # real hits first, then only padding
        assert (indices[q, :n] >= 0).all() and (indices[q, n:] == -1).all()
        assert np.isfinite(scores[q, :n]).all() and np.isnan(scores[q, n:]).all()
    ids = vindex.ids_of(indices)
    np.testing.assert_array_equal(ids[indices < 0], -1)
    np.testing.assert_array_equal(ids[indices >= 0], indices[indices >= 0] + 100)


@pytest.mark.parametrize(
    ("ids", "needle"),
    [
        (["a", "b", "c", "b", "a"], "duplicate id 'b' on rows 1 and 3"),
        (["a", "b", "", "d", "e"], "blank id on row 2"),
        (["a", "b", "c", "  ", "e"], "blank id on row 3"),
        ([7, 8, 9, 10, 7], "duplicate id 7 on rows 0 and 4"),
        ([0, 1, -1, 3, 4], "id -1 (reserved for missing hits) on row 2"),
    ],
)
def test_new_ids_must_be_distinct_and_not_padding(ids: list[object], needle: str) -> None:
    with pytest.raises(InputError, match=re.escape(needle)):
        build_index_from_array(_unit(5, 4, seed=0), ids=np.array(ids))


@pytest.fixture
def saved(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> Path:
    return save_index(build_index_from_array(data[0]), tmp_path / "ix")


@pytest.mark.parametrize("content", [b"garbage" * 20, None])
def test_corrupted_index_file_names_it(saved: Path, content: bytes | None) -> None:
    file = saved / INDEX_FILE
    raw = file.read_bytes()
    file.write_bytes(raw[: len(raw) // 2] if content is None else content)
    with pytest.raises(InputError, match=r"index\.faiss") as err:
        load_index(saved)
    assert "\n" not in str(err.value)


def test_mismatched_or_bad_metadata_names_the_file(saved: Path) -> None:
    meta_file = saved / META_FILE
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "count": meta["count"] + 1}))
    with pytest.raises(InputError, match=r"index\.faiss: count"):
        load_index(saved)
    meta_file.write_text(json.dumps({**meta, "kind": "ivf"}))
    with pytest.raises(InputError, match=r"index\.json: nlist must be"):
        load_index(saved)
    meta_file.write_text("{not json")
    with pytest.raises(InputError, match=r"index\.json"):
        load_index(saved)
    meta_file.unlink()
    with pytest.raises(InputError, match=r"index\.json"):
        load_index(saved)
    with pytest.raises(InputError, match="not found"):
        load_index(saved / "nope")


def test_bad_search_and_build_input(data: tuple[np.ndarray, np.ndarray]) -> None:
    gallery, queries = data
    exact = build_index_from_array(gallery[:50])
    cases = [
        (lambda: exact.search(queries, 0), "k must be"),
        (lambda: exact.search(queries, 51), "exceeds"),
        (lambda: exact.search(queries[:, :5], 3), "dimension"),
        (lambda: exact.search(np.full((2, 24), np.nan), 3), "NaN"),
        (lambda: exact.search(np.zeros((2, 24)), 3), "all zeros"),
        (lambda: exact.search(queries, 3, nprobe=2), "only applies"),
        (lambda: build_index_from_array(gallery[:50], kind="hnsw"), "unknown index kind"),
        (lambda: build_index_from_array(gallery[:50], kind="ivf", nlist=51), "cannot exceed"),
        (lambda: build_index_from_array(gallery[:50], kind="ivf", nlist=4, nprobe=5), "nprobe"),
        (lambda: build_index_from_array(gallery[:50], ids=np.arange(3)), "3 ids for 50"),
        (lambda: build_index_from_array(gallery[:50], batch_size=0), "batch_size"),
    ]
    for call, needle in cases:
        with pytest.raises(InputError, match=needle):
            call()


def test_destination_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="refusing"):
        save_index(build_index_from_array(_unit(5, 4, seed=0)), tmp_path / "other")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["keep.txt"]
    with pytest.raises(InputError, match="does not exist"):
        check_index_destination(tmp_path / "missing" / "ix")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"parent .*file is not a directory"):
        check_index_destination(tmp_path / "file" / "ix")


def test_missing_faiss_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(InputError, match="pip install faiss-cpu"):
        import_faiss()
