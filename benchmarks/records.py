"""Writing a benchmark script's result: its table (markdown), its record (JSON) and its plot,
each atomically, shared by the scripts that produce all three."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gentleclip.evaluation.report import atomic_path, save_figure_atomic


def write_record(
    out: Path,
    stem: str,
    text: str,
    record: dict[str, Any],
    plot: Callable[[dict[str, Any], Path], None] | None = None,
) -> None:
    """Print ``text``; write it to ``OUT/STEM.md`` and ``record`` to ``OUT/STEM.json``; call
    ``plot(record, OUT/STEM.png)`` when given. ``out`` is created if missing."""
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / f"{stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    with atomic_path(out / f"{stem}.json", ".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if plot is not None:
        plot(record, out / f"{stem}.png")


def regime_panels(
    regimes: list[str], draw: Callable[[Any, str], None], ylabel: str, path: Path
) -> None:
    """A row of panels, one per regime, each a metric against the pairs: ``draw(ax, regime)``
    fills a panel; the first gets ``ylabel``, the last the legend. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(regimes), figsize=(4 * len(regimes), 3.4), squeeze=False)
    for ax, regime in zip(axes[0], regimes, strict=True):
        draw(ax, regime)
        ax.set_title(regime)
        ax.set_xlabel("pairs")
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
