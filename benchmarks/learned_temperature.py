"""S-CLIP's learned temperature: ``sclip-learned`` and ``clip-learned`` beside the tables.

S-CLIP's code learns CLIP's logit scale (open_clip's) and sets Sinkhorn's epsilon to
``1 / logit_scale`` at every step. ``sclip`` keeps the suites' fixed temperature (0.05, with
epsilon equal to it); ``sclip-learned`` learns it from open_clip's 1 / 0.07 with epsilon
following it, and ``clip-learned`` gives CLIP the same learned scale, so both sides of the
comparison get it.

Reads their bench rows (``--rows``) and the published tables' rows as ``published_tables.py``
makes them; prints and writes ``OUT/learned-temperature.md`` (mean ± std per row where they
ran; how often each is above its fixed-temperature method and sclip-learned above
clip-learned; gentle's verdicts with both counted as baselines) and plots
``OUT/learned-temperature.png``.

    python benchmarks/learned_temperature.py --rows docs/bench/bench-learned-91f1e92.jsonl \\
        --bench docs/bench --sclip-rows docs/bench/bench-sclip-f65ce9c.jsonl --out docs/bench

Its ``--sclip-rows`` are the tables' sclip column before session c68564f
(``published_tables.SCLIP_PACKED_ROWS``): steps packing whole bags, as these variants' runs
did.
"""

from __future__ import annotations

from typing import Any

import panels
import sclip_variants

from gentleclip.experiments import bench

LEARNED = tuple(bench.LEARNED)  # sclip-learned, clip-learned
SHOWN = ("gentle", "sclip", "sclip-learned", "clip", "clip-learned")
REGIMES = ("bags:8", "unpaired")


def measured_table(learned: list[dict], published: list[dict]) -> dict[tuple, dict[str, Any]]:
    """(suite, regime, pairs) -> method -> Summary, in the rows where the learned ones ran."""
    where = {(r["suite"], r["regime"], int(r["pairs"])) for r in learned}
    table = bench.summarise([*(r for r in published if r["method"] in SHOWN), *learned])
    return {w: cells for w, cells in table.items() if w in where}


def verdict_changes(learned: list[dict], published: list[dict]) -> list[str]:
    """Rows whose verdict or best baseline moves when the learned methods count as baselines."""
    where = {(r["suite"], r["regime"], int(r["pairs"])) for r in learned}
    shown = [r for r in published if (r["suite"], r["regime"], int(r["pairs"])) in where]
    before = {v.where: v for v in bench.verdicts(shown)}
    after = {v.where: v for v in bench.verdicts([*shown, *learned])}  # RIVALS has LEARNED
    lines = []
    for key, new in sorted(after.items()):
        old = before[key]
        if (old.outcome, old.best) != (new.outcome, new.best):
            lines.append(
                f"- {' / '.join(map(str, key))}: {old.outcome} against {old.best} -> "
                f"{new.outcome} against {new.best}"
            )
    return lines or [f"- none of {len(after)} rows changes its verdict or best baseline"]


def markdown(table: dict[tuple, dict[str, Any]], changes: list[str]) -> str:
    lines = sclip_variants.table_lines(table, SHOWN)
    tallies = [
        sclip_variants.tally(table, "sclip-learned", "sclip"),
        sclip_variants.tally(table, "clip-learned", "clip"),
        sclip_variants.tally(table, "sclip-learned", "clip-learned"),
        sclip_variants.tally(table, "sclip", "clip"),
    ]
    verdicts = ["Gentle's verdicts with sclip-learned and clip-learned counted as baselines:"]
    return "\n".join([*lines, "", *tallies, "", *verdicts, *changes, ""])


def main() -> None:
    rows, published, out = sclip_variants.read_arguments(__doc__.splitlines()[0])
    learned = [r for r in rows if r["method"] in LEARNED]
    table = measured_table(learned, published)
    panels.write_outputs(
        out,
        "learned-temperature",
        markdown(table, verdict_changes(learned, published)),
        table,
        published,
        methods=SHOWN,
        regimes=REGIMES,
        dashed=LEARNED,
    )


if __name__ == "__main__":
    main()
