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
    _, _, candidates = _probes(bench_script)
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
