"""Session e2fc655: molecules' cheaper recipe with the bag term, as docs/results.md reports it
(section "Molecules: a cheaper recipe with the bag term")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from gentleclip.experiments import bench
from gentleclip.recipes import load_recipe, recipe_overrides

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
PROBES = (
    "molecules-recipe-val-e2fc655.jsonl",
    "molecules-cheaper-val-25594be.jsonl",
    "molecules-bagterm-val-e2fc655.jsonl",
)
REFERENCE = {"model.sparse_inputs": "a"}  # the recipe before, as the probes ran it
ScriptLoader = Callable[[str], ModuleType]


def _flat() -> str:
    return " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())


def _probes(bench_script: ScriptLoader) -> tuple[ModuleType, dict, list]:
    script = bench_script("recipe_probes")
    rows = script.read_rows([BENCH / name for name in PROBES])
    ref, candidates = script.compare(rows, "gentle", REFERENCE)
    return script, ref, candidates


def test_the_recipe_is_the_wide_recipe_with_the_chosen_probe_override(
    bench_script: ScriptLoader,
) -> None:
    """molecules-gentle is molecules-gentle-wide (the recipe the probes overrode) with the
    override recipe_probes.py chooses by its rule, field for field; the other molecules recipe
    (clip) is unchanged, and the probe record in docs/bench is what the script makes."""
    script, ref, candidates = _probes(bench_script)
    chosen = script.choose(candidates, len(ref), 0.25, 0.005)
    assert chosen is not None and chosen.settings == 24
    nested: dict[str, Any] = {}
    for dotted, value in chosen.override.items():
        bench.set_dotted(nested, dotted, value)
    wide = load_recipe("molecules-gentle-wide").to_dict()
    assert bench.merge_nested(wide, nested) == load_recipe("molecules-gentle").to_dict()
    assert recipe_overrides("molecules-clip")["model"]["embed_dim"] == 512
    record = json.loads((BENCH / "molecules-recipe-probes.json").read_text(encoding="utf-8"))
    assert record["chosen"] == chosen.label
    text = (BENCH / "molecules-recipe-probes.md").read_text(encoding="utf-8")
    assert text == script.report(ref, candidates, chosen)


def test_results_quotes_the_probes_of_the_candidates_that_cover_the_grid(
    bench_script: ScriptLoader,
) -> None:
    _, ref, candidates = _probes(bench_script)
    flat = _flat()
    full = {c.override["optim.steps"]: c for c in candidates if c.settings == 24}
    assert sorted(full) == [200, 300, 400]
    reference = full[200].reference_mean
    quotes = " / ".join(f"{full[s].mean:.4f}" for s in (400, 300, 200))
    assert f"score {quotes} on average over the 24 settings, against the recipe's " in flat
    assert f"against the recipe's {reference:.4f}" in flat
    costs = " / ".join(f"{full[s].cost:.3f}x" for s in (400, 300, 200))
    assert f"at {costs} of its probes' time" in flat
    above = " / ".join(f"{full[s].above}" for s in (400, 300, 200))
    assert f"above it in {above} of the 24 settings" in flat
    chosen = full[200].by_setting
    eight = [f"bags:8 / {p}" for p in (10, 20, 50, 100, 200)]
    assert all(chosen[k] > ref[k] for k in eight) and chosen["bags:8 / 0"] < ref["bags:8 / 0"]
    ours, theirs = (" / ".join(f"{d[k]:.3f}" for k in eight) for d in (chosen, ref))
    assert f"above the recipe at 10-200 pairs ({ours} against {theirs})" in flat
    assert all(
        chosen[f"bags:128 / {p}"] > ref[f"bags:128 / {p}"] for p in (0, 10, 20, 50, 100, 200)
    )


def _timing(stem: str) -> dict[str, Any]:
    lines = (BENCH / f"{stem}.timing.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads(lines[-1])


def _spent(rows: list[dict[str, Any]], methods: tuple[str, ...]) -> float:
    return sum(r["seconds"] for r in rows if r["method"] in methods)


def test_the_grid_with_the_recipe_fits_30_minutes_and_is_what_results_quotes(
    bench_script: ScriptLoader,
) -> None:
    """The default grid with molecules-gentle as it is: every cell made with the recipe now (no
    override), under 30 minutes of 2 cores; results.md quotes its time, what its methods spent
    against session e3f3a5a's grid, and docs/bench/grid-change-molecules-e2fc655.md is what
    grid_change.py makes of the two, 7 verdicts better and none worse."""
    stem = "bench-molecules-e2fc655"
    rows = bench.read_results(BENCH / f"{stem}.jsonl")
    assert len({bench._row_key(r) for r in rows}) == len(rows) == 960
    gentle = [r for r in rows if r["method"] == "gentle"]
    digest = bench.recipe_digests([bench.Cell("molecules", "bags:8", 10, 0, "gentle")])
    assert all(r["recipes"] == digest and not r.get("recipe_override") for r in gentle)
    timing = _timing(stem)
    assert (timing["cells"], timing["workers"]) == (960, 2)
    assert timing["wall_seconds"] < 30 * 60
    minutes, seconds = divmod(round(timing["wall_seconds"]), 60)
    flat = _flat()
    worker = timing["worker_seconds"]
    assert f"took **{minutes} min {seconds:02d} s** wall and {worker:,.0f} worker-seconds, " in flat
    assert f"**{worker / 3600:.2f}x** what 30 minutes of 2 cores hold" in flat
    before = bench.read_results(BENCH / "bench-molecules-sparse-e3f3a5a.jsonl")
    trained = ("clip", "sclip", "oracle")
    assert (
        f"Gentle's 120 cells took {_spent(rows, ('gentle',)):,.0f} worker-seconds "
        f"({_spent(before, ('gentle',)):,.0f} in session e3f3a5a's grid)"
    ) in flat
    assert (
        f"dense first layer, {_spent(rows, trained):,.0f} ({_spent(before, trained):,.0f} " in flat
    )
    closed = ("ridge", "procrustes", "cca", "relrep")
    left = [_spent(rows, (m,)) for m in ("sclip", "clip")] + [_spent(rows, closed)]
    assert (
        f"mostly the baselines': sclip's {left[0]:,.0f}, clip's {left[1]:,.0f}, the closed-form "
        f"maps' {left[2]:,.0f} and the oracle's {_spent(rows, ('oracle',)):,.0f}"
    ) in flat
    script = bench_script("grid_change")
    record = script.compare(before, rows)
    made = (BENCH / "grid-change-molecules-e2fc655.md").read_text(encoding="utf-8")
    assert made == script.report(record)
    assert (record["better"], record["worse"], record["gentle_rose"]) == (7, 0, 14)
    assert record["counts"]["after"] == {"win": 7, "tie": 8, "lose": 5}
    assert made.split("\n\n")[0] in (ROOT / "docs" / "results.md").read_text(encoding="utf-8")


def test_the_300_step_grid_is_what_results_quotes(bench_script: ScriptLoader) -> None:
    """The grid first run with 300 steps: 36 s over 30 minutes, 7 verdicts better, 1 worse."""
    stem = "bench-molecules-bagterm300-e2fc655"
    rows = bench.read_results(BENCH / f"{stem}.jsonl")
    assert len(rows) == 960
    timing = _timing(stem)
    minutes, seconds = divmod(round(timing["wall_seconds"]), 60)
    assert (minutes, seconds) == (30, 36)
    flat = _flat()
    worker = timing["worker_seconds"]
    assert f"**{minutes} min {seconds} s** wall ({worker:,.0f} worker-seconds, " in flat
    ref = timing["reference_step_ms"]
    assert (
        f"{worker / 3600:.2f}x; reference step {ref['before']:.2f} / {ref['after']:.2f} ms)" in flat
    )
    script = bench_script("grid_change")
    before = bench.read_results(BENCH / "bench-molecules-sparse-e3f3a5a.jsonl")
    record = script.compare(before, rows)
    made = (BENCH / "grid-change-molecules-300steps-e2fc655.md").read_text(encoding="utf-8")
    assert made == script.report(record)
    assert (record["better"], record["worse"]) == (7, 1)
    assert record["counts"]["after"] == {"win": 6, "tie": 9, "lose": 5}


def test_the_tables_gentle_column_is_the_recipe_s_full_search_and_results_quotes_it(
    load_script: ScriptLoader,
) -> None:
    """Molecules' gentle column is the recipe's 120 full-search cells (no override); with
    pairs its verdicts against the issue's baselines are 7 wins, 7 ties and 6 losses (5 / 4 /
    11 before), and results.md quotes target 1's rows and bags of 8 at every count."""
    tables = load_script("published_tables")
    rows = tables.read(BENCH / tables.MOLECULES_GENTLE)
    assert len(rows) == 120 and {r["method"] for r in rows} == {"gentle"}
    assert not any(r.get("recipe_override") for r in rows)
    # the full search trains every candidate (the halving search prunes some, and says so)
    assert all(not c.get("pruned") and c["val"] is not None for r in rows for c in r["candidates"])
    digest = bench.recipe_digests([bench.Cell("molecules", "bags:8", 10, 0, "gentle")])
    assert all(r["recipes"] == digest for r in rows)
    now = tables.table_rows(BENCH, BENCH / tables.SCLIP_ROWS)
    wide = tables.table_rows(BENCH, BENCH / tables.SCLIP_ROWS, tables.SOURCES_WIDE_MOLECULES)

    def found(table: list[dict]) -> dict:
        mine = [r for r in table if r["suite"] == "molecules"]
        return {v.where[1:]: v for v in bench.verdicts(mine, bench.COMPARE_BASELINES)}

    new, old = found(now), found(wide)
    counts = [sum(v.outcome == o for v in new.values()) for o in ("win", "tie", "lose")]
    assert counts == [7, 7, 6]
    assert [sum(v.outcome == o for v in old.values()) for o in ("win", "tie", "lose")] == [5, 4, 11]
    order = {"lose": 0, "tie": 1, "win": 2}
    moved = [order[new[w].outcome] - order[old[w].outcome] for w in new if w[1] > 0]
    assert (sum(m > 0 for m in moved), sum(m < 0 for m in moved)) == (7, 1)
    flat = _flat()
    assert "**7 wins, 7 ties, 6 losses**, against 5 / 4 / 11" in flat
    eight = [new[("bags:8", p)] for p in (10, 20, 50, 100, 200)]
    assert all(v.outcome == "win" for v in eight)
    ours = " / ".join(f"{v.gentle.mean:.3f}" for v in eight)
    theirs = " / ".join(f"{v.baseline.mean:.3f}" for v in eight)
    assert f"({ours} vs at most {theirs};" in flat
    assert f"({ours} against the best baseline's {theirs})" in flat
    at50 = new[("bags:8", 50)]
    assert f"(at 50 pairs +{at50.margin:.3f} against a noise line of {at50.noise:.3f};" in flat
    zero = new[("bags:8", 0)].gentle
    assert f"it gets {zero.mean:.3f} ± {zero.std:.3f} with zero pairs and **wins at every" in flat


def test_target1_over_ten_seeds_with_the_recipe_is_what_results_quotes(
    load_script: ScriptLoader,
) -> None:
    """Gentle's seeds 5-9 at bags of 8 (10, 20, 50 pairs) with the tables' seeds 0-4, against
    the baselines' seeds 0-4 (the tables) and 5-9 (session 46f4fd9's rows, the closed-form
    maps from its centred run): a win at each count, quoted with its numbers."""
    tables = load_script("published_tables")
    now = tables.table_rows(BENCH, BENCH / tables.SCLIP_ROWS)
    base = [r for r in now if r["suite"] == "molecules" and r["regime"] == "bags:8"]
    gentle = bench.read_results(BENCH / "bench-molecules-seeds59-e2fc655.jsonl")
    assert {(r["method"], r["seed"]) for r in gentle} == {("gentle", s) for s in range(5, 10)}
    others = [
        r
        for r in bench.read_results(BENCH / "bench-molecules-heads512-full-seeds59-46f4fd9.jsonl")
        if r["method"] in ("clip", "sclip")
    ]
    maps = [
        r
        for r in bench.read_results(BENCH / "bench-molecules-centred-seeds09-46f4fd9.jsonl")
        if r["seed"] >= 5 and r["regime"] == "bags:8" and r["method"] in bench.COMPARE_BASELINES
    ]
    rows = [r for r in [*base, *gentle, *others, *maps] if r["pairs"] in (10, 20, 50)]
    found = bench.verdicts(rows, bench.COMPARE_BASELINES)
    assert [v.where[2] for v in found] == [10, 20, 50]
    assert all(v.outcome == "win" and v.gentle.n == v.baseline.n == 10 for v in found)
    flat = _flat()
    ours = " / ".join(f"{v.gentle.mean:.3f} ± {v.gentle.std:.3f}" for v in found)
    theirs = " / ".join(f"{v.baseline.mean:.3f} ± {v.baseline.std:.3f} ({v.best})" for v in found)
    assert f"{ours} against {theirs};" in flat
    at50 = found[-1]
    assert f"pairs +{at50.margin:.3f} against a noise line of {at50.noise:.3f} (+0.065" in flat


def test_a_later_field_at_its_default_changes_no_recipe_digest() -> None:
    """loss.bag_optional (session e2fc655) left at its default hashes as before the field
    existed: molecules-clip's digest and gentle-bagnce's overrides' (which set it to its
    default, false) are those of earlier sessions' rows, so their folders still resume;
    molecules-gentle, which sets it, hashes with it."""
    clip = bench.read_results(BENCH / "bench-molecules-sparse-e3f3a5a.jsonl")[0]["recipes"]
    now = bench.recipe_digests([bench.Cell("molecules", "bags:8", 0, 0, "clip")])
    assert now == clip
    rows = bench.read_results(BENCH / "bench-molecules-bagnce128-9e196c1.jsonl")
    before = rows[0]["recipes"]["gentle-bagnce overrides"]
    cell = bench.Cell("molecules", "bags:8", 0, 0, "gentle-bagnce")
    assert bench.recipe_digests([cell])["gentle-bagnce overrides"] == before
    assert recipe_overrides("bag-nce")["loss"]["bag_optional"] is False
    gentle = bench.recipe_digests([bench.Cell("molecules", "bags:8", 0, 0, "gentle")])
    made = bench.read_results(BENCH / "bench-molecules-e2fc655.jsonl")
    assert {r["recipes"]["molecules-gentle"] for r in made if r["method"] == "gentle"} == {
        gentle["molecules-gentle"]
    }
