"""``--train-encoder``: switch a recipe's pretrained torch encoders from frozen to fine-tuned."""

from __future__ import annotations

from gentleclip.errors import InputError
from gentleclip.models.encoders.pretrained import PRETRAINED_ENCODERS
from gentleclip.training.config import TrainConfig


def enable_encoder_training(config: TrainConfig) -> list[str]:
    """Set ``trainable: true`` on every tower whose encoder is a pretrained torch module.

    Returns the sides changed; raises :class:`InputError` when the recipe has none (towers
    over cached frozen features have nothing to fine-tune).
    """
    model = config.model
    sides = [s for s in ("a", "b") if getattr(model, f"encoder_{s}") in PRETRAINED_ENCODERS]
    if not sides:
        raise InputError(
            "--train-encoder: the recipe's encoders "
            f"({model.encoder_a}, {model.encoder_b}) are not pretrained torch encoders; "
            f"use {' or '.join(PRETRAINED_ENCODERS)} on raw rows (recipes *-finetune-*)"
        )
    for side in sides:
        kwargs = getattr(model, f"encoder_{side}_kwargs")
        setattr(model, f"encoder_{side}_kwargs", {**kwargs, "trainable": True})
    return sides
