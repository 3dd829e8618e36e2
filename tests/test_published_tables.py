"""docs/results.md's tables are what benchmarks/published_tables.py makes from the rows files."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "published_tables", ROOT / "benchmarks" / "published_tables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _script()


@pytest.fixture(scope="module")
def rows(script: ModuleType) -> list[dict]:
    measured = script.read(BENCH / script.SCLIP_ROWS)
    return script.with_sclip_from(script.grid_rows(BENCH), measured)


def test_results_md_shows_the_tables_made_from_the_rows(script: ModuleType, rows: list) -> None:
    text = script.bench.render_markdown(rows)
    assert (BENCH / "tables.md").read_text(encoding="utf-8") == text
    doc = set((ROOT / "docs" / "results.md").read_text(encoding="utf-8").splitlines())
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(lines) > 190
    assert [line for line in lines if line not in doc] == []


def test_the_sclip_column_is_the_authors_code_run(script: ModuleType, rows: list) -> None:
    sclip = [r for r in rows if r["method"] == "sclip"]
    assert len(sclip) == 4 * 120
    ok = [r for r in sclip if r["status"] == "ok"]
    assert ok and all(r["measured_as"] == script.SCLIP_AS_MEASURED for r in ok)
    grids = script.grid_rows(BENCH)
    old = {script._key(r): r["value"] for r in grids if r["method"] == "sclip" and "value" in r}
    new = {script._key(r): r["value"] for r in ok}
    assert old.keys() == new.keys() and old != new
    others = [r for r in rows if r["method"] != "sclip"]
    assert others == [r for r in grids if r["method"] != "sclip"]


def test_a_missing_sclip_row_is_refused(script: ModuleType) -> None:
    grids = script.grid_rows(BENCH)
    measured = script.read(BENCH / script.SCLIP_ROWS)
    name = script.SCLIP_AS_MEASURED
    dropped = next(r for r in measured if r["method"] == name and r["suite"] == "emoji")
    fewer = [r for r in measured if r is not dropped]
    with pytest.raises(SystemExit, match=rf"1 sclip cells lack a {name} row: \('emoji'"):
        script.with_sclip_from(grids, fewer)


def test_learned_temperature_table_is_made_from_its_rows(
    script: ModuleType, rows: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/bench/learned-temperature.md is what benchmarks/learned_temperature.py makes of
    session 91f1e92's rows: 24 rows, and no verdict changes with the learned methods."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "learned_temperature", ROOT / "benchmarks" / "learned_temperature.py"
    )
    assert spec is not None and spec.loader is not None
    learned_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learned_script)
    measured = script.read(BENCH / "bench-learned-91f1e92.jsonl")
    learned = [r for r in measured if r["method"] in learned_script.LEARNED]
    assert len(learned) == 240 and all(r["status"] == "ok" for r in learned)
    table = learned_script.measured_table(learned, rows)
    changes = learned_script.verdict_changes(learned, rows)
    text = learned_script.markdown(table, changes)
    assert (BENCH / "learned-temperature.md").read_text(encoding="utf-8") == text
    assert len(table) == 24  # the one change the doc reports: a best baseline, not an outcome
    assert changes == ["- emoji / bags:8 / 10: win against relrep -> win against clip-learned"]
    doc = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert "above `sclip` in 9 of 24 rows" in doc and "above sclip in 9 of 24 rows" in text
