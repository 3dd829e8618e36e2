"""One figure of headline-vs-pairs panels, a row per regime and a column per suite, shared by
the benchmark scripts that set a few methods side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench


def suite_panels(
    table: dict[tuple, dict[str, Any]],
    headlines: dict[str, str],
    path: Path,
    *,
    methods: Sequence[str],
    regimes: Sequence[str],
    dashed: Sequence[str],
) -> None:
    """Mean ± std over seeds vs pairs of ``methods`` (``dashed`` ones dashed) per panel."""
    suites = list(dict.fromkeys(where[0] for where in table))
    fig = Figure(figsize=(4 * len(suites), 6.5), layout="constrained")
    axes = fig.subplots(len(regimes), len(suites), squeeze=False)
    for row, regime in enumerate(regimes):
        for col, suite in enumerate(suites):
            ax = axes[row][col]
            for method in methods:
                points = [
                    (w[2], c[method])
                    for w, c in table.items()
                    if w[:2] == (suite, regime) and isinstance(c.get(method), bench.Summary)
                ]
                if points:
                    xs, ys = zip(*[(p, s.mean) for p, s in points], strict=True)
                    errs = [s.std for _, s in points]
                    style = "--" if method in dashed else "-"
                    color = bench._style(method)["color"]  # each method's colour everywhere
                    ax.errorbar(
                        xs, ys, yerr=errs, label=method, ls=style, marker="o", ms=3, color=color
                    )
            ax.set_xscale("symlog", linthresh=10)
            ax.set_title(f"{suite}, {regime}: test {headlines.get(suite, '')}", fontsize=9)
            ax.set_xlabel("training pairs")
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean ± std over seeds")
    axes[0][0].legend(fontsize=8)
    save_figure_atomic(fig, path)


def write_outputs(
    out: Path,
    stem: str,
    text: str,
    table: dict[tuple, dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    **panel_options: Any,
) -> None:
    """Print ``text`` and write it to ``OUT/STEM.md``; plot ``table`` to ``OUT/STEM.png``
    (panel titles name each suite's headline metric, read from ``rows``)."""
    print(text)
    with atomic_path(out / f"{stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    headlines = {r["suite"]: r["headline"] for r in rows if r.get("headline")}
    suite_panels(table, headlines, out / f"{stem}.png", **panel_options)
    print(f"table: {out / f'{stem}.md'}, plot: {out / f'{stem}.png'}")
