"""Every number `gentleclip train`'s regime line quotes is the published rows' mean.

The quotes in ``gentleclip.data.regimes`` are written by hand; these tests recompute each one
from the rows behind docs/results.md (the suite tables, the bag-level InfoNCE report and the
disjoint study), so a table that moves fails here until the line is updated.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.regimes import _EXPECTATIONS, MEASURED_BAG_SIZES, Regime

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _means(rows: list[dict], method: str) -> dict[tuple[str, str, int], float]:
    """Mean headline per (suite, regime, pairs) of ``method``'s scored rows."""
    values: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for row in rows:
        if row["method"] == method and row["status"] == "ok":
            values[(row["suite"], row["regime"], row["pairs"])].append(row["value"])
    return {key: float(np.mean(v)) for key, v in values.items()}


@pytest.fixture(scope="module")
def table_rows() -> list[dict]:
    """The suite tables' rows (as benchmarks/published_tables.py reads them)."""
    spec = importlib.util.spec_from_file_location(
        "published_tables", ROOT / "benchmarks" / "published_tables.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.grid_rows(BENCH)


@pytest.fixture(scope="module")
def gentle(table_rows: list[dict]) -> dict[tuple[str, str, int], float]:
    return _means(table_rows, "gentle")


@pytest.fixture(scope="module")
def clip(table_rows: list[dict]) -> dict[tuple[str, str, int], float]:
    return _means(table_rows, "clip")


def _bagnce_at_zero_pairs(rows_per_bag: int) -> dict[str, tuple[str, float]]:
    """bagnce.md's 0-pair lines at one bag size: suite -> (verdict against every baseline,
    gentle-bagnce minus gentle)."""
    text = (BENCH / "bagnce.md").read_text(encoding="utf-8")
    section = text.split(f"Bags of {rows_per_bag} (test headline")[1].split("Bags of")[0]
    found = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 10 and cells[1] == "0":
            gap = re.fullmatch(r"\w+ \(([+-][0-9.]+)\)", cells[9])
            assert gap is not None, line
            found[cells[0]] = (cells[8].split()[0], float(gap.group(1)))
    assert set(found) == {"mfeat", "emoji", "molecules", "proteins"}
    return found


def test_bags_of_32_quote_the_tables(gentle: dict) -> None:
    text = _one_line(MEASURED_BAG_SIZES[32])
    at = {
        pairs: (gentle[("mfeat", "bags:32", pairs)], gentle[("mfeat", "bags:8", pairs)])
        for pairs in (0, 20)
    }
    assert f"{at[20][0]:.3f} vs {at[20][1]:.3f} with 20 pairs" in text
    assert f"{at[0][0]:.3f} vs {at[0][1]:.3f} with none" in text
    assert "sat at chance on proteins" in text
    assert gentle[("proteins", "bags:32", 0)] <= 10 / 100 + 1e-9  # R@10 over 100 test items


def test_bags_of_128_quote_the_tables(gentle: dict) -> None:
    text = _one_line(MEASURED_BAG_SIZES[128])
    suites = ("mfeat", "emoji", "molecules")
    zero = " / ".join(f"{gentle[(s, 'bags:128', 0)]:.3f}" for s in suites)
    assert f"class P@1 {zero} on {' / '.join(suites)}" in text
    mfeat = gentle[("mfeat", "bags:128", 20)], gentle[("mfeat", "bags:8", 20)]
    assert (
        f"mfeat with 20 pairs: {mfeat[0]:.3f} at bags of 128, {mfeat[1]:.3f} at bags of 8" in text
    )


def test_bag_nce_quotes_the_bag_level_infonce_report() -> None:
    at32 = _bagnce_at_zero_pairs(32)
    gains = [gap for _, gap in at32.values()]
    assert all(gap > 0 for gap in gains)
    text32 = _one_line(MEASURED_BAG_SIZES[32])
    assert f"all four suites (+{min(gains):.3f} to +{max(gains):.3f})" in text32
    held = sum(verdict in ("tie", "win") for verdict, _ in at32.values())
    assert held == 3 and "--bag-means --tune) on three" in text32
    at128 = _bagnce_at_zero_pairs(128)
    lifted = sorted(gap for verdict, gap in at128.values() if gap > 0)
    text128 = _one_line(MEASURED_BAG_SIZES[128])
    assert f"lifted gentle by {lifted[0]:.3f}-{lifted[-1]:.3f} on three suites" in text128
    assert all(verdict in ("tie", "lose") for verdict, _ in at128.values())
    assert "matched or beat it on every suite" in text128


def test_the_disjoint_line_quotes_the_disjoint_study() -> None:
    lines = (BENCH / "bench-mfeat-disjoint.jsonl").read_text(encoding="utf-8").splitlines()
    means = _means([json.loads(line) for line in lines], "clip-nbr")
    clip = _means([json.loads(line) for line in lines], "clip")
    relrep = _means([json.loads(line) for line in lines], "relrep")
    pairs = (50, 100, 200)

    def quoted(table: dict) -> str:
        return " / ".join(f"{table[('mfeat', 'unpaired', p)]:.3f}" for p in pairs)

    text = _one_line(_EXPECTATIONS[Regime.UNPAIRED])
    assert f"P@1 {quoted(means)} vs {quoted(clip)} at 50 / 100 / 200 pairs" in text
    assert f"did as well or better there ({quoted(relrep)})" in text
    assert all(relrep[("mfeat", "unpaired", p)] >= means[("mfeat", "unpaired", p)] for p in pairs)


def test_bags_of_8_quote_the_tables(gentle: dict, clip: dict) -> None:
    text = _one_line(MEASURED_BAG_SIZES[8])
    cell = ("mfeat", "bags:8", 20)
    assert f"class P@1 {gentle[cell]:.3f} vs {clip[cell]:.3f} for CLIP on the pairs" in text


def test_bags_of_128_losses_are_the_verdict_tables() -> None:
    """ "with 10-200 pairs lost to the best method that ignores the bags ... on every suite,
    proteins at 10-20 pairs aside": the tables' gentle-against-best-baseline verdicts."""
    verdicts = {}
    for line in (BENCH / "tables.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 9 and cells[1] == "bags:128":
            verdicts[(cells[0], int(cells[2]))] = cells[7]
    spared = {key for key, verdict in verdicts.items() if key[1] > 0 and verdict != "lose"}
    assert len(verdicts) == 4 * 6 and spared == {("proteins", 10), ("proteins", 20)}
    text = _one_line(MEASURED_BAG_SIZES[128])
    assert "with 10-200 pairs lost to the best method that ignores the bags" in text
    assert "on every suite, proteins at 10-20 pairs aside" in text
