"""Feature encoders, built by name through a registry (``create_encoder("mlp", 64)``).

Importing this package registers the built-in encoders (``identity``, ``mlp``); optional
backends are imported lazily by :func:`create_encoder` the first time their name is used.
"""

from __future__ import annotations

from gentleclip.models.encoders import identity, mlp
from gentleclip.models.encoders.registry import (
    EncoderFactory,
    create_encoder,
    list_encoders,
    register_backend_module,
    register_encoder,
)

__all__ = [
    "EncoderFactory",
    "create_encoder",
    "identity",
    "list_encoders",
    "mlp",
    "register_backend_module",
    "register_encoder",
]
