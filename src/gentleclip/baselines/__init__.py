"""Non-neural baselines fitted on the matched pairs: ridge, Procrustes, CCA, relative reps.

>>> from gentleclip.baselines import BASELINES, get_baseline
>>> get_baseline("ridge").name
'ridge'
"""

from __future__ import annotations

from gentleclip.baselines.base import BASELINES, Baseline, Embedder, get_baseline

__all__ = ["BASELINES", "Baseline", "Embedder", "get_baseline"]
