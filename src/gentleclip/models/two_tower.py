"""Two-tower model: per modality ``FeatureNorm -> encoder -> ProjectionHead -> L2 normalise``.

The forward pass returns a dict whose keys are the loss arguments (open_clip style):
``pair_a``/``pair_b`` (matched rows), ``all_a``/``all_b`` (every row of a side, paired or not)
and, with ``ssl_views=True``, two augmented views per side for the self-supervised term.
Weights are stored as ``model.safetensors`` plus ``config.json``; pickle is never used.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gentleclip.data.io import read_json_object, write_folder_atomic, write_json_file
from gentleclip.errors import InputError
from gentleclip.losses.functional import all_finite, check_bag_ids
from gentleclip.models.augment import FeatureAugment
from gentleclip.models.encoders import create_encoder
from gentleclip.models.encoders.identity import IdentityEncoder
from gentleclip.models.encoders.mlp import MLPEncoder
from gentleclip.models.heads import ProjectionHead
from gentleclip.models.normalize import FeatureNorm
from gentleclip.models.sparse import MAX_DENSITY, SparseInputLinear

FORMAT = "gentleclip-two-tower"
VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
SIDES = ("a", "b")


@dataclass
class TowerConfig:
    """One modality's tower: encoder name, its factory options and the input feature count."""

    encoder: str = "mlp"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    input_dim: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples in ``encoder_kwargs`` become lists)."""
        return {
            "encoder": self.encoder,
            "encoder_kwargs": _json_roundtrip(self.encoder_kwargs, "encoder_kwargs"),
            "input_dim": self.input_dim,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "tower") -> TowerConfig:
        """Build from :meth:`to_dict` output; unknown keys or wrong types raise InputError."""
        _check_keys(cls, data, where)
        config = cls(**{k: data[k] for k in data})
        if not isinstance(config.encoder, str):
            raise InputError(f"{where}.encoder must be a string, got {config.encoder!r}")
        if not isinstance(config.encoder_kwargs, Mapping):
            raise InputError(f"{where}.encoder_kwargs must be a mapping")
        config.encoder_kwargs = dict(config.encoder_kwargs)
        _check_int(config.input_dim, f"{where}.input_dim", minimum=0)
        return config


def _default_augment() -> dict[str, float]:
    """Default :class:`FeatureAugment` options."""
    return {"noise_std": 0.1, "mask_prob": 0.1}


@dataclass
class TwoTowerConfig:
    """Both towers plus the shared embedding size, head dropout, input norm and augmentation."""

    a: TowerConfig
    b: TowerConfig
    embed_dim: int = 128
    head_dropout: float = 0.1
    normalize_inputs: bool = True
    augment: dict[str, float] = field(default_factory=_default_augment)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested dict."""
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "embed_dim": self.embed_dim,
            "head_dropout": self.head_dropout,
            "normalize_inputs": self.normalize_inputs,
            "augment": _json_roundtrip(self.augment, "augment"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TwoTowerConfig:
        """Build from :meth:`to_dict` output; unknown/missing keys or bad types raise InputError."""
        _check_keys(cls, data, "model config")
        for side in SIDES:
            if side not in data or not isinstance(data[side], Mapping):
                raise InputError(f"model config needs a mapping for tower {side!r}")
        values = dict(data)
        values["a"] = TowerConfig.from_dict(data["a"], where="a")
        values["b"] = TowerConfig.from_dict(data["b"], where="b")
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`InputError` for values no model can be built from."""
        for side, tower in (("a", self.a), ("b", self.b)):
            if not isinstance(tower, TowerConfig):
                raise InputError(f"tower {side!r} must be a TowerConfig")
        _check_int(self.embed_dim, "embed_dim", minimum=1)
        dropout = self.head_dropout
        if not (_is_number(dropout) and 0.0 <= dropout < 1.0):
            raise InputError(f"head_dropout must be in [0, 1), got {dropout!r}")
        if not isinstance(self.normalize_inputs, bool):
            raise InputError(f"normalize_inputs must be true/false, got {self.normalize_inputs!r}")
        if not isinstance(self.augment, Mapping):
            raise InputError("augment must be a mapping with noise_std and/or mask_prob")
        unknown = sorted(set(self.augment) - {"noise_std", "mask_prob"})
        if unknown:
            raise InputError(f"unknown augment option(s) {', '.join(map(str, unknown))}")


class _Tower(nn.Module):
    """One side: optional FeatureNorm, augmentation, encoder and projection head."""

    def __init__(self, config: TowerConfig, model: TwoTowerConfig, side: str) -> None:
        super().__init__()
        _check_int(config.input_dim, f"tower {side!r} input_dim", minimum=1)
        self.input_dim = config.input_dim
        self.encoder = create_encoder(config.encoder, config.input_dim, **config.encoder_kwargs)
        # Encoders that read structure out of their input (e.g. a validity channel) say so.
        raw = getattr(self.encoder, "expects_raw_inputs", False)
        use_norm = model.normalize_inputs and not raw
        self.norm: nn.Module = FeatureNorm(config.input_dim) if use_norm else nn.Identity()
        # Encoders of raw inputs bring their own augmentation (image crops, token dropout).
        make_augment = getattr(self.encoder, "make_augment", None)
        self.augment = make_augment() if make_augment else FeatureAugment(**model.augment)
        self.head = ProjectionHead(
            self.encoder.output_dim, model.embed_dim, dropout=model.head_dropout
        )

    def embed(self, z: torch.Tensor) -> torch.Tensor:
        """L2-normalised embedding of already-normalised features ``z``."""
        return F.normalize(self.head(self.encoder(z)), dim=-1)

    def use_sparse_inputs(self, side: str, max_density: float) -> None:
        """Compute the layer that reads the raw features from their non-zero entries
        (:meth:`_first_layer`)."""
        parent, name = self._first_layer(side)
        layer = getattr(parent, name)
        if isinstance(layer, nn.Linear):
            setattr(parent, name, SparseInputLinear.from_linear(layer, max_density=max_density))

    def _first_layer(self, side: str) -> tuple[nn.Module, str]:
        """(parent module, attribute) of the layer that reads the raw features: the head's
        first (``identity`` encoder) or the encoder's first (``mlp``). Raises
        :class:`InputError` for other encoders and for standardised inputs
        (``normalize_inputs`` makes every entry non-zero)."""
        if isinstance(self.norm, FeatureNorm):
            raise InputError(
                f"sparse inputs on side {side!r}: its inputs are standardised, which makes them "
                "dense; set model.normalize_inputs: false"
            )
        if isinstance(self.encoder, IdentityEncoder):
            return self.head, "projection"
        if isinstance(self.encoder, MLPEncoder):
            return self.encoder.layers, "0"
        raise InputError(
            f"sparse inputs on side {side!r} need an identity or mlp encoder (a linear "
            f"first layer), not {type(self.encoder).__name__}"
        )


class TwoTower(nn.Module):
    """Two towers mapping modalities ``a`` and ``b`` into one L2-normalised space."""

    def __init__(self, config: TwoTowerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = copy.deepcopy(config)
        self.towers = nn.ModuleDict(
            {"a": _Tower(config.a, config, "a"), "b": _Tower(config.b, config, "b")}
        )

    def use_sparse_inputs(self, sides: Iterable[str], *, max_density: float = MAX_DENSITY) -> None:
        """Compute the first layer of each named side's tower from its inputs' non-zero entries
        (:class:`~gentleclip.models.sparse.SparseInputLinear`): the same model and state dict,
        faster steps on mostly-zero features. Raises :class:`InputError` for a side whose
        tower cannot (:meth:`_Tower.use_sparse_inputs`)."""
        for side in sides:
            self.towers[self._check_side(side)].use_sparse_inputs(side, max_density)

    def can_use_sparse_inputs(self, side: str) -> bool:
        """Whether :meth:`use_sparse_inputs` accepts ``side`` (its tower has a linear first
        layer on unstandardised inputs)."""
        try:
            self.towers[self._check_side(side)]._first_layer(side)
        except InputError:
            return False
        return True

    def sparse_sides(self) -> list[str]:
        """The sides whose tower computes a layer from its inputs' non-zero entries."""
        return [
            side
            for side in SIDES
            if any(isinstance(m, SparseInputLinear) for m in self.towers[side].modules())
        ]

    @torch.no_grad()
    def fit_normalization(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Fit each side's FeatureNorm on training rows; a no-op if ``normalize_inputs`` is off."""
        for side, x in (("a", a), ("b", b)):
            norm = self.towers[side].norm
            if isinstance(norm, FeatureNorm):
                norm.fit(self._check_input(side, x))

    def encode(self, side: str, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised ``(N, embed_dim)`` embeddings of rows ``x`` of modality ``side``."""
        tower = self.towers[self._check_side(side)]
        return tower.embed(tower.norm(self._check_input(side, x)))

    def forward(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        *,
        n_pairs: int,
        ssl_views: bool = False,
        bags_a: torch.Tensor | None = None,
        bags_b: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Embed both sides; the first ``n_pairs`` rows of ``a`` and ``b`` are matched pairs.

        Returns ``pair_a``/``pair_b`` ``(n_pairs, D)`` (slices of the ``all_*`` embeddings),
        ``all_a`` ``(N_a, D)``, ``all_b`` ``(N_b, D)``, ``features_a``, ``features_b``: the
        rows as each tower's encoder receives them (after the feature norm; the targets of
        the neighbourhood term) and, when ``ssl_views``, ``view1_a``,
        ``view2_a``, ``view1_b``, ``view2_b``: two independently augmented copies of every row
        through the same tower (identical to ``all_*`` in eval mode). ``bags_a`` / ``bags_b``,
        the bag ids of the unpaired rows (``N_a - n_pairs`` and ``N_b - n_pairs`` of them),
        are passed through under the same keys (the bag-level loss reads them).
        """
        inputs = {"a": self._check_input("a", a), "b": self._check_input("b", b)}
        self._check_n_pairs(n_pairs, a.shape[0], b.shape[0])
        out: dict[str, torch.Tensor] = {}
        for side, x in inputs.items():
            tower = self.towers[side]
            z = tower.norm(x)
            out[f"features_{side}"] = z
            out[f"all_{side}"] = tower.embed(z)
            out[f"pair_{side}"] = out[f"all_{side}"][:n_pairs]
            if ssl_views:
                out[f"view1_{side}"] = tower.embed(tower.augment(z))
                out[f"view2_{side}"] = tower.embed(tower.augment(z))
        for side, bags in (("a", bags_a), ("b", bags_b)):
            if bags is not None:
                rows = inputs[side].shape[0] - n_pairs
                out[f"bags_{side}"] = check_bag_ids(bags, rows, f"bags_{side}", per="unpaired row")
        return out

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created if needed).

        Both files are written to a temporary folder inside ``directory`` and moved into place
        with ``os.replace``, so a failure never leaves a half-written file behind.
        """
        config = {**self.config.to_dict(), "format": FORMAT, "version": VERSION}
        tensors = _state_tensors(self)
        files = {
            WEIGHTS_NAME: lambda file: save_file(tensors, str(file), metadata={"format": "pt"}),
            CONFIG_NAME: lambda file: write_json_file(file, config),
        }
        return write_folder_atomic(directory, "model", files)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str]) -> TwoTower:
        """Load a model written by :meth:`save_pretrained`, in eval mode, on CPU.

        Raises :class:`InputError` for a missing directory or file, unreadable JSON or
        safetensors (naming the file), a foreign ``format``/``version``, or weights whose keys
        or shapes do not match the config.
        """
        path = Path(directory)
        if not path.is_dir():
            raise InputError(f"model directory not found: {path}")
        config_file, weights_file = path / CONFIG_NAME, path / WEIGHTS_NAME
        config = _read_config(config_file)
        tensors = _read_weights(weights_file)
        try:
            model = cls(config)
        except InputError as err:
            raise InputError(f"{config_file}: {err}") from err
        _check_state(model, tensors, weights_file)
        dtypes = {t.dtype for t in tensors.values() if t.is_floating_point()}
        if len(dtypes) == 1:
            model.to(dtypes.pop())
        model.load_state_dict(tensors, strict=True)
        return model.eval()

    def _check_side(self, side: str) -> str:
        """Return ``side`` if it is ``"a"`` or ``"b"``, else raise :class:`InputError`."""
        if side not in SIDES:
            raise InputError(f"unknown side {side!r}; expected 'a' or 'b'")
        return side

    def _check_input(self, side: str, x: torch.Tensor) -> torch.Tensor:
        """Validate a ``(N, input_dim)`` finite float tensor; cast it to the model's dtype."""
        expected = self.towers[self._check_side(side)].input_dim
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise InputError(f"side {side!r}: expected a floating-point tensor")
        if x.ndim != 2 or x.shape[1] != expected:
            raise InputError(f"side {side!r}: expected shape (N, {expected}), got {tuple(x.shape)}")
        if not all_finite(x):
            raise InputError(f"side {side!r}: input contains NaN or infinite values")
        return x.to(self.towers[side].head.projection.weight.dtype)

    @staticmethod
    def _check_n_pairs(n_pairs: int, n_a: int, n_b: int) -> None:
        """``n_pairs`` must be an int in ``[0, min(N_a, N_b)]``."""
        if isinstance(n_pairs, bool) or not isinstance(n_pairs, int):
            raise InputError(f"n_pairs must be an int, got {n_pairs!r}")
        if not 0 <= n_pairs <= min(n_a, n_b):
            raise InputError(
                f"n_pairs must be in [0, min(N_a, N_b)] = [0, {min(n_a, n_b)}], got {n_pairs}"
            )


def _state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies of the state dict; shared storage is cloned apart."""
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        tensors[key] = tensor.clone() if pointer in seen else tensor
        seen.add(pointer)
    return tensors


def _read_config(file: Path) -> TwoTowerConfig:
    """Parse and check ``config.json``; every problem becomes an InputError naming the file."""
    data = read_json_object(file, "model config")
    fmt, version = data.pop("format", None), data.pop("version", None)
    if fmt != FORMAT:
        raise InputError(f"{file}: format is {fmt!r}, expected {FORMAT!r}")
    if version != VERSION:
        raise InputError(f"{file}: unsupported version {version!r}, expected {VERSION}")
    try:
        return TwoTowerConfig.from_dict(data)
    except InputError as err:
        raise InputError(f"{file}: {err}") from err


def _read_weights(file: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file to CPU; unreadable or corrupted files raise InputError."""
    if not file.is_file():
        raise InputError(f"missing model weights file: {file}")
    try:
        return load_file(str(file), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise InputError(f"cannot read model weights {file}: {err}") from err


def _check_state(model: nn.Module, tensors: Mapping[str, torch.Tensor], file: Path) -> None:
    """Raise InputError naming ``file`` unless ``tensors`` matches the model's keys and shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise InputError(
            f"{file} does not match the config: missing {_preview(missing)}, "
            f"unexpected {_preview(unexpected)}"
        )
    for key, value in expected.items():
        if tuple(tensors[key].shape) != tuple(value.shape):
            raise InputError(
                f"{file}: tensor {key!r} has shape {tuple(tensors[key].shape)}, "
                f"config expects {tuple(value.shape)}"
            )


def _preview(keys: list[str], limit: int = 3) -> str:
    """``[k1, k2, k3, ... (+n more)]`` for error messages."""
    shown = ", ".join(keys[:limit])
    more = f", ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    """Raise InputError for a non-mapping or keys that are not fields of dataclass ``cls``."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where} must be a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )


def _check_int(value: object, label: str, *, minimum: int) -> None:
    """Raise InputError unless ``value`` is an int (not bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{label} must be an int >= {minimum}, got {value!r}")


def _is_number(value: object) -> bool:
    """True for a finite int/float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_roundtrip(value: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Copy of ``value`` as JSON would return it; non-JSON values raise InputError."""
    try:
        return json.loads(json.dumps(dict(value)))
    except (TypeError, ValueError) as err:
        raise InputError(f"{label} must be JSON-serialisable: {err}") from err
