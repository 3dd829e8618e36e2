"""What a real-domain dataset builder returns: paired features plus labels, groups, licence.

Builders (``emoji``, ``proteins``, ``molecules``, raw formats) encode raw items with frozen
featurizers (cached) and return a :class:`DomainData`: row i of ``a`` and ``b`` describe the
same object. ``gentleclip split``-style splitting, training and evaluation then work as for
any feature data; ``groups`` gives natural bags, ``label_sets`` class labels for evaluation
and zero-shot prompts where one side is text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gentleclip.errors import InputError


@dataclass(frozen=True)
class LabelSet:
    """One labelling of the rows (e.g. emoji category), never used for training."""

    name: str
    labels: np.ndarray  # (N,) int64 in [0, len(class_names))
    class_names: list[str]
    prompts: list[str] | None = None  # one text prompt per class, for zero-shot


@dataclass(frozen=True)
class DomainData:
    """Fully paired features of one domain (row i of ``a`` and ``b`` is one object)."""

    name: str
    a: np.ndarray  # (N, da) float32
    b: np.ndarray  # (N, db) float32
    side_names: tuple[str, str]  # e.g. ("image", "text")
    label_sets: list[LabelSet] = field(default_factory=list)
    groups: np.ndarray | None = None  # (N,) natural bag id per row, or None
    text_side: str | None = None  # "a" or "b" when that side is text (zero-shot possible)
    text_featurizer: str | None = None  # featurizer that encoded the text side
    source: str = ""
    licence: str = ""

    def __post_init__(self) -> None:
        n = len(self.a)
        if self.a.ndim != 2 or self.b.ndim != 2 or len(self.b) != n or n == 0:
            raise InputError(
                f"{self.name}: a {self.a.shape} and b {self.b.shape} must be paired 2-D"
            )
        for label_set in self.label_sets:
            if label_set.labels.shape != (n,):
                raise InputError(f"{self.name}: labels {label_set.name!r} need one entry per row")
        if self.groups is not None and self.groups.shape != (n,):
            raise InputError(f"{self.name}: groups need one entry per row")
        if self.text_side not in (None, "a", "b"):
            raise InputError(f"{self.name}: text_side must be 'a', 'b' or None")

    @property
    def primary_labels(self) -> np.ndarray | None:
        return self.label_sets[0].labels if self.label_sets else None
