"""benchmarks/bf16_step.py: molecules' products and step in float32 and under bfloat16."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _record(products: tuple[float, float], step: tuple[float, float]) -> dict[str, Any]:
    return {
        "cpu": "some CPU",
        "capability": "AVX512",
        "amx_bf16": True,
        "torch": "2.13.0",
        "pairs": 20,
        "steps": 10,
        "repeats": 5,
        "ms": {"products alone": list(products), "gentle step": list(step)},
    }


def test_the_table_gives_each_ratio_and_the_rest_of_the_step(bench_script: Any) -> None:
    text = bench_script("bf16_step").report(_record((3.0, 1.0), (9.0, 8.0)))
    assert "| products alone | 3.00 | 1.00 | 3.00x |" in text
    assert "| gentle step | 9.00 | 8.00 | 1.12x |" in text
    assert "| the step less its products | 6.00 | 7.00 | 0.86x |" in text
    assert "some CPU (AVX512, AMX bfloat16 yes), torch 2.13.0" in text


def test_a_short_run_writes_its_table_record_and_plot(bench_script: Any, tmp_path: Path) -> None:
    script = bench_script("bf16_step")
    script.main(["--out", str(tmp_path), "--stem", "b", "--steps", "2", "--repeats", "1"])
    record = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert set(record["ms"]) == {"products alone", "gentle step"}
    assert all(len(v) == 2 and min(v) > 0 for v in record["ms"].values())
    assert (tmp_path / "b.md").read_text(encoding="utf-8") == script.report(record)
    assert (tmp_path / "b.png").stat().st_size > 0
