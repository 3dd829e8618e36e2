"""Writing a benchmark script's result: its table (markdown), its record (JSON) and its plot,
each atomically, shared by the scripts that produce all three."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gentleclip.evaluation.report import atomic_path


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
