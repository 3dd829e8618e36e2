"""Typed training configuration: every default lives here, once.

A YAML file (``configs/train.yaml``) may override any subset of these fields; unknown keys
are rejected with a one-line :class:`~gentleclip.errors.InputError`. The resolved
configuration is written into every run directory as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gentleclip.errors import InputError
from gentleclip.losses.functional import SPREADS

METHODS = ("gentle", "clip", "sclip")
SPARSE_INPUTS = ("none", "a", "b", "both", "auto")  # model.sparse_inputs
# keys added after runs were saved whose default differs from what those runs did: a saved
# run that lacks one was trained with this value
ABSENT_MEANS: dict[str, Any] = {"loss.pseudo_detach_targets": True}
MAX_SEED = 2**32 - 1  # numpy's and Lightning's seed range is 0..2**32-1
# Keys that ``--resume`` may change: how long to train, and how the run reports and saves.
# Everything else (method, seed, model, loss, sampler, optimizer, devices) is fixed by the
# checkpoint; optim.steps / optim.epochs may only grow (checked against the checkpoint).
RESUMABLE_KEYS = (
    "optim.steps",
    "optim.epochs",
    "trainer.progress",
    "trainer.checkpoint_every_steps",
    "trainer.skip_nonfinite",
)


@dataclass
class ModelConfig:
    """Towers: an encoder from the registry per side, then a projection head."""

    encoder_a: str = "mlp"
    encoder_b: str = "mlp"
    encoder_a_kwargs: dict[str, Any] = field(default_factory=lambda: {"hidden_dims": [256]})
    encoder_b_kwargs: dict[str, Any] = field(default_factory=lambda: {"hidden_dims": [256]})
    embed_dim: int = 64
    head_dropout: float = 0.1
    normalize_inputs: bool = True
    noise_std: float = 0.1
    mask_prob: float = 0.1
    # compute the first layer of a side's tower from the non-zero entries of its raw inputs
    # (models.sparse): none, a, b, both, or auto (each side whose training rows are at most 5%
    # non-zero and whose tower allows it: identity or mlp encoder, normalize_inputs false).
    # The same model up to the order of float sums; faster steps on fingerprints and counts
    sparse_inputs: str = "none"


@dataclass
class LossConfig:
    """Weights and hyper-parameters of the four terms.

    Defaults are the recipe tuned on a UCI mfeat validation split (docs/tuning.md); the
    paper's weights are 1.0 / 0.7 / 0.2 / 0.15 (recipe ``paper``). The self-supervised term
    is off by default because it lowered validation class P@1 there (0.61 -> 0.36).
    """

    w_clip: float = 1.0
    w_sdd: float = 0.7
    w_mmd: float = 0.2
    w_ssl: float = 0.0
    clip_temperature: float = 0.05
    # true: CLIP's logit scale is learned, starting at 1 / 0.07 as in CLIP and open_clip
    # (clamped at 100); clip_temperature is then unused by the CLIP term
    learnable_scale: bool = False
    clip_extra_negatives: bool = False
    sdd_bandwidth: float = 0.5
    sdd_leave_one_out: bool = False
    sdd_spread: str = "range"
    sdd_normalize: bool = False
    mmd_multipliers: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0])
    mmd_bandwidths: list[float] | None = None
    mmd_unbiased: bool = False
    ssl_temperature: float = 0.05
    # Neighbourhood preservation (losses.NeighbourhoodLoss) on every row of each side: each
    # tower keeps the neighbours its input features give a row. Off by default; the disjoint
    # recipes use it (docs/results.md, "Disjoint unpaired data").
    w_nbr: float = 0.0
    nbr_temperature: float = 0.1
    nbr_bandwidth: float = 0.05
    # Bag-level InfoNCE (losses.BagCLIPLoss): CLIP between each bag's mean A embedding and
    # mean B embedding, over the bags of a step. Off by default; needs bags. It gets one
    # negative per other bag of the step, so recipes that use it raise
    # sampler.unpaired_per_step (docs/results.md, "Bag-level InfoNCE").
    w_bag: float = 0.0
    bag_temperature: float = 0.05
    # true: where the data has no bags, or a step of sampler.unpaired_per_step rows cannot
    # hold 2 of them, train without the bag term (w_bag taken as 0, with a line saying so)
    # instead of refusing; for a recipe meant for data with bags or without (molecules-gentle)
    bag_optional: bool = False
    # Schedule of the distribution terms (SDD, MMD): off for the first dist_warmup_steps
    # optimizer steps (CLIP on the pairs only), then ramped linearly to full weight.
    dist_warmup_steps: int = 0
    dist_ramp_steps: int = 0
    # S-CLIP pseudo-label term (Mo et al. 2023), used only by method "sclip", set as its
    # authors' code sets it (alinlab/s-clip, custom/loss.py): Sinkhorn epsilon = the CLIP
    # temperature, 10 iterations, the caption loss at half weight. The library's earlier
    # 0.1 / 50 / 1.0 with detached targets scored lower in 65 of 80 bench rows (recipe and
    # bench method ``sclip-legacy``; docs/results.md, "Our implementations against the
    # libraries").
    w_pseudo: float = 0.5
    pseudo_epsilon: float = 0.05  # Sinkhorn entropic regularisation (cost = 1 - cosine)
    pseudo_iterations: int = 10  # Sinkhorn iterations
    # As in S-CLIP's code (POT's torch backend), gradients flow through the Sinkhorn plan into
    # the pseudo-labels; true makes them fixed targets (as the library did until session
    # f65ce9c: bench method sclip-detached, lower in most rows, docs/results.md)
    pseudo_detach_targets: bool = False
    # S-CLIP's code also puts the unpaired A rows (its images) among the negatives of the
    # B -> A CLIP direction; off here (above sclip in only 5 of 24 bench rows, docs/results.md)
    pseudo_extra_negatives: bool = False
    # S-CLIP's code sets Sinkhorn's epsilon to 1 / its learned logit scale at every step; true
    # does that here (with learnable_scale; otherwise epsilon = clip_temperature) and leaves
    # pseudo_epsilon unused. Bench method sclip-learned (docs/results.md)
    pseudo_epsilon_from_scale: bool = False
    gather_distributed: bool = True  # a no-op in a single process
    # rows per chunk of the memory-bounded CLIP/SDD/MMD kernels (peak memory O(B * chunk));
    # null = full B x B matrices (fastest for small batches)
    chunk_size: int | None = None


# the loss keys only method "sclip" reads: its pseudo-label term's weight and settings
SCLIP_ONLY_KEYS = tuple(
    f"loss.{f.name}"
    for f in dataclasses.fields(LossConfig)
    if f.name == "w_pseudo" or f.name.startswith("pseudo_")
)


@dataclass
class SamplerConfig:
    """What one optimisation step sees: pairs plus whole bags (or unpaired rows)."""

    pairs_per_step: int = 64
    unpaired_per_step: int = 32  # 4 bags of 8: small sets make the density match informative
    # each bag's mean A row and mean B row join the pairs (data.bag_means; needs bags)
    bag_means: bool = False
    # false: the unpaired rows are left out and the run trains on the pairs alone (what
    # train --auto does on disjoint sides with pairs: docs/results.md, "Pairs only")
    use_unpaired: bool = True


@dataclass
class OptimConfig:
    """AdamW with a fixed budget of optimizer steps (or epochs, if ``steps`` is None)."""

    lr: float = 2e-3
    weight_decay: float = 1e-4
    # learning rate of fine-tuned pretrained encoders (--train-encoder); null = lr
    encoder_lr: float | None = None
    steps: int | None = 2000
    epochs: int | None = None


@dataclass
class TrainerConfig:
    """Lightning Trainer options: CPU by default, any accelerator/strategy by flag."""

    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    deterministic: bool = True
    progress: bool = True
    skip_nonfinite: bool = False  # skip steps whose loss is NaN/Inf instead of stopping
    checkpoint_every_steps: int = 200  # also saved when training ends; resume is exact


@dataclass
class TrainConfig:
    """Everything `gentleclip train` needs besides the data directory."""

    method: str = "gentle"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def validate(self) -> TrainConfig:
        """Raise :class:`InputError` for values no run could use; return self."""
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InputError(f"seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
        _check_finite(self)
        _check_positive(self)
        _check_non_negative(self)
        _check_loss_options(self.loss)
        _check_optim(self.optim)
        if self.model.sparse_inputs not in SPARSE_INPUTS:
            raise InputError(
                f"model.sparse_inputs must be one of {', '.join(SPARSE_INPUTS)}, "
                f"got {self.model.sparse_inputs!r}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_positive(config: TrainConfig) -> None:
    """Raise :class:`InputError` naming the first value that must be > 0 but is not."""
    positive = {
        "model.embed_dim": config.model.embed_dim,
        "loss.clip_temperature": config.loss.clip_temperature,
        "loss.ssl_temperature": config.loss.ssl_temperature,
        "loss.nbr_temperature": config.loss.nbr_temperature,
        "loss.nbr_bandwidth": config.loss.nbr_bandwidth,
        "loss.bag_temperature": config.loss.bag_temperature,
        "loss.sdd_bandwidth": config.loss.sdd_bandwidth,
        "loss.pseudo_epsilon": config.loss.pseudo_epsilon,
        "loss.pseudo_iterations": config.loss.pseudo_iterations,
        "sampler.pairs_per_step": config.sampler.pairs_per_step,
        "sampler.unpaired_per_step": config.sampler.unpaired_per_step,
        "optim.lr": config.optim.lr,
        "trainer.checkpoint_every_steps": config.trainer.checkpoint_every_steps,
    }
    for name, value in positive.items():
        if not value > 0:
            raise InputError(f"{name} must be > 0, got {value}")


def _check_non_negative(config: TrainConfig) -> None:
    """Raise :class:`InputError` naming the first weight, step count or decay below 0."""
    names = ("w_clip", "w_sdd", "w_mmd", "w_ssl", "w_nbr", "w_pseudo", "w_bag")
    values = {f"loss.{name}": getattr(config.loss, name) for name in names}
    values["loss.dist_warmup_steps"] = config.loss.dist_warmup_steps
    values["loss.dist_ramp_steps"] = config.loss.dist_ramp_steps
    values["optim.weight_decay"] = config.optim.weight_decay
    for name, value in values.items():
        if value < 0:
            raise InputError(f"{name} must be >= 0, got {value}")


def _check_loss_options(loss: LossConfig) -> None:
    """Raise :class:`InputError` for a loss option the loss functions would reject mid-run."""
    if loss.sdd_spread not in SPREADS:
        raise InputError(
            f"loss.sdd_spread must be one of {', '.join(SPREADS)}, got {loss.sdd_spread!r}"
        )
    _check_positive_list("loss.mmd_multipliers", loss.mmd_multipliers)
    if loss.mmd_bandwidths is not None:
        _check_positive_list("loss.mmd_bandwidths", loss.mmd_bandwidths)
    if loss.chunk_size is not None and loss.chunk_size < 1:
        raise InputError(f"loss.chunk_size must be >= 1 or null, got {loss.chunk_size}")


def _check_positive_list(name: str, values: list[Any]) -> None:
    """Raise :class:`InputError` unless ``values`` is a non-empty list of finite numbers > 0."""
    if not isinstance(values, list) or not values:
        raise InputError(f"{name} must be a non-empty list of numbers > 0, got {values!r}")
    for value in values:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise InputError(f"{name} entries must be finite numbers > 0, got {values!r}")


def _check_optim(optim: OptimConfig) -> None:
    """Raise :class:`InputError` for an unusable encoder learning rate or training length."""
    if optim.encoder_lr is not None and not optim.encoder_lr > 0:
        raise InputError(f"optim.encoder_lr must be > 0 or null, got {optim.encoder_lr}")
    if optim.steps is None and optim.epochs is None:
        raise InputError("set optim.steps or optim.epochs (both are empty)")
    for name in ("steps", "epochs"):
        value = getattr(optim, name)
        if value is not None and value < 1:
            raise InputError(f"optim.{name} must be >= 1, got {value}")


def _check_finite(config: TrainConfig) -> None:
    """Raise :class:`InputError` naming the first NaN/Inf number in any config section."""
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for item in dataclasses.fields(value):
            numbers = getattr(value, item.name)
            numbers = numbers if isinstance(numbers, list) else [numbers]
            if any(isinstance(x, float) and not math.isfinite(x) for x in numbers):
                raise InputError(f"{section.name}.{item.name} must be finite, got {numbers}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from defaults overridden by ``values`` (checked keys)."""
    if not isinstance(values, dict):
        raise InputError(f"config section {where or 'root'!r} must be a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise InputError(
            f"unknown config key {prefix}{unknown[0]}; known keys: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{where}.{name}".lstrip("."))
        else:
            kwargs[name] = _coerce(value, hint, f"{where}.{name}".lstrip("."))
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check a YAML scalar/list against a simple type hint (int->float allowed)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        origin = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return None
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin in (str, bool, dict, list) and isinstance(value, origin):
            return value
    raise InputError(f"config key {where} has a bad value {value!r} (expected {hint})")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading floats as YAML 1.2 does: ``lr: 1e-3`` is 0.001.

    PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent, so ``1e-3`` and
    ``5e4`` would be strings and a recipe's learning rate would be refused."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def read_yaml(text: str) -> Any:
    """Safe YAML (no objects built from tags), with YAML 1.2 floats such as ``1e-3``."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe


def config_from_dict(values: dict[str, Any] | None) -> TrainConfig:
    """Defaults overridden by a nested mapping, validated. A mapping that names another encoder
    for a side than the default's and gives no options for it starts that side from the
    encoder's own options (:func:`_options_follow_encoder`)."""
    return _build(TrainConfig, _options_follow_encoder(values or {}), "").validate()


def _options_follow_encoder(values: dict[str, Any]) -> dict[str, Any]:
    """``model.encoder_X_kwargs`` defaults to ``{}`` where ``model.encoder_X`` renames the
    encoder: the default options are the MLP's (``hidden_dims``), which mean nothing to, say,
    ``identity``. The bench's ``with_recipe_override`` keeps its own form of this rule: it merges
    over a recipe's resolved config, whose options (the recipe's, not the defaults) it resets
    whenever the override names an encoder."""
    model = values.get("model") if isinstance(values, dict) else None
    if not isinstance(model, dict):  # not a mapping: _build names the problem
        return values
    default = ModelConfig()
    missing = {
        f"encoder_{side}_kwargs": {}
        for side in ("a", "b")
        if f"encoder_{side}" in model
        and model[f"encoder_{side}"] != getattr(default, f"encoder_{side}")
        and f"encoder_{side}_kwargs" not in model
    }
    return {**values, "model": {**model, **missing}} if missing else values


def load_config(path: str | Path | None) -> TrainConfig:
    """Read a YAML recipe (None -> the defaults)."""
    if path is None:
        return config_from_dict(None)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        values = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read config file {path}: {err}") from err
    except yaml.YAMLError as err:
        raise InputError(
            f"config file {path} is not valid YAML: {str(err).splitlines()[0]}"
        ) from err
    return config_from_dict(values)


def dump_config(config: TrainConfig) -> str:
    """The resolved configuration as YAML (what ``config.yaml`` of a run holds)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def flat_config(values: dict[str, Any]) -> dict[str, Any]:
    """A nested configuration mapping as ``{"section.key": value, "method": ..., ...}`` (the
    sections are the top-level mappings; ``method`` and ``seed`` are scalars)."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{key}": item for key, item in value.items()})
        else:
            flat[name] = value
    return flat


def resume_conflicts(saved: dict[str, Any], config: TrainConfig) -> list[tuple[str, Any, Any]]:
    """``(key, saved value, new value)`` for every key that ``config`` changes with respect to
    ``saved`` (a run's recorded configuration) and that ``--resume`` may not change.

    Keys ``saved`` lacks (a run written before they existed) count as their defaults, or as
    ``ABSENT_MEANS`` says where the behaviour before the key differs from its default; keys
    it has that no longer exist are ignored, and so are the S-CLIP keys unless the method is
    ``sclip`` (the only one that reads them: their defaults changed once already).
    """
    old = flat_config(TrainConfig().to_dict()) | ABSENT_MEANS | flat_config(saved)
    new = flat_config(config.to_dict())
    free = RESUMABLE_KEYS if config.method == "sclip" else (*RESUMABLE_KEYS, *SCLIP_ONLY_KEYS)
    return [
        (key, old[key], value)
        for key, value in new.items()
        if key not in free and old[key] != value
    ]
