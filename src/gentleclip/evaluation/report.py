"""Plain-text tables, JSON files and bar charts for comparing runs' metrics.

A *columns* mapping goes from a run name to that run's flat metric dict, for example
``{"gentle": metrics_1, "clip": metrics_2}``. Every file is written atomically: to a
temporary file in the destination directory, then moved into place with ``os.replace``.
Figures use matplotlib's Agg canvas directly, so no display or global backend is touched.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gentleclip.errors import InputError

MISSING = "-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    Parent directories are created. On error the temporary file is removed and
    ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A fresh unique name (not mkstemp) so the final file gets the usual umask permissions.
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}{suffix}.tmp"
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def save_figure_atomic(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Render ``fig`` as PNG with the Agg canvas and write it atomically to ``path``."""
    canvas = FigureCanvasAgg(fig)
    with atomic_path(path, ".png") as tmp:
        canvas.print_png(str(tmp))


def _json_default(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tensors and paths to JSON-native values."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    if hasattr(obj, "tolist"):  # torch.Tensor without importing torch here
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise InputError(f"cannot write value of type {type(obj).__name__} to JSON")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON (indent 2, sorted keys, trailing newline) atomically.

    Numpy scalars/arrays, tensors and paths are converted; other unsupported values
    raise InputError.
    """
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(text, encoding="utf-8")


def _check_columns(columns: Mapping[str, Mapping[str, float]]) -> None:
    """Raise InputError if ``columns`` is empty or not a mapping of mappings."""
    if not isinstance(columns, Mapping) or not columns:
        raise InputError("columns must be a non-empty mapping of run name -> metrics")
    for name, metrics in columns.items():
        if not isinstance(metrics, Mapping):
            raise InputError(
                f"metrics of run {name!r} must be a mapping, got {type(metrics).__name__}"
            )


def _all_keys(columns: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Union of metric names in order of first appearance."""
    return list(dict.fromkeys(key for metrics in columns.values() for key in metrics))


def _number(value: Any, key: str) -> float:
    """Return ``value`` as a float or raise InputError naming the metric."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"metric {key!r} has non-numeric value {value!r}") from None


def _format_value(key: str, value: Any) -> str:
    """Ranks with 1 decimal, other metrics with 3; missing values as ``-``."""
    if value is None:
        return MISSING
    decimals = 1 if "rank" in key else 3
    return f"{_number(value, key):.{decimals}f}"


def _format_ratio(key: str, first: Any, second: Any) -> str:
    """``first / second`` with 3 decimals, or ``-`` if missing or not finite."""
    if first is None or second is None or _number(second, key) == 0.0:
        return MISSING
    ratio = _number(first, key) / _number(second, key)
    return f"{ratio:.3f}" if math.isfinite(ratio) else MISSING


def format_table(
    columns: Mapping[str, Mapping[str, float]], *, keys: Sequence[str] | None = None
) -> str:
    """Fixed-width text table: one row per metric, one column per run.

    ``keys`` selects and orders the rows (default: every metric, in order of first
    appearance). Values print with 3 decimals, metrics whose name contains ``rank`` with 1;
    absent metrics print as ``-``. With exactly two runs a ratio column headed
    ``first/second`` (the two run names) is appended; it is ``-`` when either value is
    missing or the denominator is zero.
    """
    _check_columns(columns)
    names = list(columns)
    rows = _all_keys(columns) if keys is None else list(keys)
    header = ["metric", *names]
    if len(names) == 2:
        header.append(f"{names[0]}/{names[1]}")
    body = []
    for key in rows:
        values = [columns[name].get(key) for name in names]
        cells = [key, *(_format_value(key, v) for v in values)]
        if len(names) == 2:
            cells.append(_format_ratio(key, *values))
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [_join_row(header, widths), "  ".join("-" * w for w in widths)]
    lines.extend(_join_row(cells, widths) for cells in body)
    return "\n".join(lines)


def _join_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Left-align the first cell, right-align the rest."""
    first = cells[0].ljust(widths[0])
    rest = (cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))
    return "  ".join([first, *rest]).rstrip()


def plot_metric_bars(
    columns: Mapping[str, Mapping[str, float]],
    keys: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str,
) -> None:
    """Grouped bar chart (one group per metric in ``keys``, one bar per run) as a PNG.

    Missing metrics leave a gap. The file is written atomically; parent directories are
    created.
    """
    _check_columns(columns)
    keys = list(keys)
    if not keys:
        raise InputError("keys must name at least one metric to plot")
    fig = Figure(figsize=(max(6.0, 0.9 * len(keys) + 2.0), 4.5))
    ax = fig.subplots()
    width = 0.8 / len(columns)
    x = np.arange(len(keys), dtype=float)
    for i, (name, metrics) in enumerate(columns.items()):
        heights = [_bar_height(metrics, key) for key in keys]
        ax.bar(x + (i - (len(columns) - 1) / 2) * width, heights, width, label=name)
    ax.set_xticks(x, keys, rotation=30, ha="right")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def _bar_height(metrics: Mapping[str, float], key: str) -> float:
    """Bar height for ``key`` (NaN, i.e. no bar, when absent)."""
    value = metrics.get(key)
    return math.nan if value is None else _number(value, key)
