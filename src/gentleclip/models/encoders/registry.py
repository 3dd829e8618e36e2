"""Name -> factory registry for feature encoders (timm-style ``create_model``).

An encoder is an :class:`torch.nn.Module` with an integer attribute ``output_dim`` whose
forward maps a float tensor ``(N, input_dim)`` to ``(N, output_dim)``. A backend module
registers its factories on import with :func:`register_encoder`; backends with optional,
heavy dependencies are listed in :data:`_BACKEND_MODULES` (name -> module path) and imported
only when :func:`create_encoder` first asks for one of their names.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

from torch import nn

from gentleclip.errors import InputError

EncoderFactory = Callable[..., nn.Module]

_FACTORIES: dict[str, EncoderFactory] = {}

# Encoder name -> module that registers it on import. Built-ins are listed too, so
# ``create_encoder`` works even when only this module has been imported.
_BACKEND_MODULES: dict[str, str] = {
    "identity": "gentleclip.models.encoders.identity",
    "mlp": "gentleclip.models.encoders.mlp",
    "residue_attention": "gentleclip.models.encoders.residue",
    "efficientnet_lite0": "gentleclip.models.encoders.pretrained",
    "minilm": "gentleclip.models.encoders.pretrained",
}


def register_encoder(name: str) -> Callable[[EncoderFactory], EncoderFactory]:
    """Decorator registering ``factory(input_dim: int, **kwargs) -> nn.Module`` as ``name``.

    Registering a different factory under a taken name raises ``ValueError`` (a programming
    error, not user input); re-registering the same function (module reload) is allowed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")

    def decorator(factory: EncoderFactory) -> EncoderFactory:
        existing = _FACTORIES.get(name)
        if existing is not None and _qualified(existing) != _qualified(factory):
            raise ValueError(f"encoder {name!r} is already registered by {_qualified(existing)}")
        _FACTORIES[name] = factory
        return factory

    return decorator


def register_backend_module(name: str, module: str) -> None:
    """Declare that importing ``module`` registers encoder ``name`` (imported on first use)."""
    _BACKEND_MODULES[name] = module


def list_encoders() -> list[str]:
    """Sorted names of all encoders: registered ones and lazily importable backends."""
    return sorted(set(_FACTORIES) | set(_BACKEND_MODULES))


def create_encoder(name: str, input_dim: int, **kwargs: object) -> nn.Module:
    """Build encoder ``name`` for ``input_dim`` input features with factory options ``kwargs``.

    Raises :class:`InputError` for an unknown name (listing the available ones), a missing
    optional dependency, a non-positive ``input_dim`` or options the factory does not take.
    """
    factory = _lookup(name)
    if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim <= 0:
        raise InputError(f"encoder {name!r}: input_dim must be a positive int, got {input_dim!r}")
    _check_kwargs(name, factory, kwargs)
    encoder = factory(input_dim, **kwargs)
    if not isinstance(getattr(encoder, "output_dim", None), int):
        raise TypeError(f"encoder factory {name!r} returned a module without int output_dim")
    return encoder


def _lookup(name: str) -> EncoderFactory:
    """Return the factory for ``name``, importing its backend module first if needed."""
    if name not in _FACTORIES and name in _BACKEND_MODULES:
        module = _BACKEND_MODULES[name]
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise InputError(
                f"encoder {name!r} needs an optional dependency that is not installed: {err}"
            ) from err
    if name not in _FACTORIES:
        raise InputError(
            f"unknown encoder {name!r}; available: {', '.join(list_encoders()) or '(none)'}"
        )
    return _FACTORIES[name]


def _check_kwargs(name: str, factory: EncoderFactory, kwargs: dict[str, object]) -> None:
    """Raise :class:`InputError` naming options ``factory`` does not accept or still needs."""
    params = list(inspect.signature(factory).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise InputError(
            f"encoder {name!r} got unknown option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(accepted)) or '(none)'}"
        )
    required = {
        p.name
        for p in params
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_POSITIONAL
    }
    missing = sorted(required - set(kwargs))
    if missing:
        raise InputError(f"encoder {name!r} is missing required option(s) {', '.join(missing)}")


def _qualified(factory: EncoderFactory) -> str:
    """``module.qualname`` of a factory, used to recognise re-registration."""
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', '?')}"
