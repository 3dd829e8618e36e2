"""Argument types shared by subcommands (argparse reports their errors in one line, exit 2)."""

from __future__ import annotations

import argparse

from gentleclip.training.config import MAX_SEED


def seed_arg(text: str) -> int:
    """``--seed``: an integer in 0..2**32-1 (what numpy and Lightning accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in 0..{MAX_SEED}, got {value}")
    return value
