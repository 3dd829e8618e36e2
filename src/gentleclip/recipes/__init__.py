"""Shipped training recipes (YAML), read with :func:`load_recipe`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from gentleclip.errors import InputError
from gentleclip.training.config import TrainConfig, config_from_dict, load_config, read_yaml

# Whole bags a step of recipe bag-nce must hold (its bag term needs 2 bags). Where its 128
# rows cannot hold them (bags of 128), the bench's gentle-bagnce and `gentleclip train
# --bag-nce` both raise the step to this many times the largest bag (docs/results.md,
# "Bag-level InfoNCE": 256 rows at bags of 128).
BAG_NCE_BAGS_PER_STEP = 2


def recipe_names() -> list[str]:
    return sorted(
        p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".yaml")
    )


def recipe_overrides(name: str) -> dict[str, Any]:
    """The settings a shipped recipe overrides, as written in its YAML file."""
    path = resources.files(__name__) / f"{name}.yaml"
    if not path.is_file():
        raise InputError(f"unknown recipe {name!r}; shipped: {', '.join(recipe_names())}")
    return read_yaml(path.read_text(encoding="utf-8"))


def load_recipe(name: str) -> TrainConfig:
    """The config of a shipped recipe, e.g. ``mfeat-gentle``."""
    return config_from_dict(recipe_overrides(name))


def config_or_recipe(text: str | None) -> TrainConfig:
    """``train --config``: a YAML file, else the name of a shipped recipe
    (``molecules-gentle``); None gives the defaults. A file of that name wins over the recipe."""
    if text is None or Path(text).is_file():
        return load_config(text)
    names = recipe_names()
    if text in names:
        return load_recipe(text)
    raise InputError(
        f"config file not found: {text} (nor is it a shipped recipe: {', '.join(names)})"
    )
