"""The published tables of docs/results.md: every suite's table, the verdict table and plots.

Reads the bench rows each suite's table is made from (``SOURCES``: the default grids, 5 seeds,
4 candidates per method, ``--search full``), keeps the ``compare`` methods, and takes the
``sclip`` rows from ``--sclip-rows`` instead of the grids' own. The grids' own sclip rows were
made with the library's earlier S-CLIP settings (now ``sclip-legacy``) and stay in their files.
The tables' sclip column (``SCLIP_ROWS``) is session c68564f's run of ``sclip`` as it is now:
S-CLIP as its authors' code runs it (session f65ce9c: Sinkhorn epsilon = the CLIP temperature,
10 iterations, caption loss at half weight, gradients through the plan), with a bags split
read as two sets of unpaired rows (``bench.as_sets``), so one result serves every bag size.
Before it, the column was session f65ce9c's run as the bench method ``sclip-plan-grad``
(``SCLIP_PACKED_ROWS``), whose steps packed whole bags; a file of such rows is read the same
way (renamed, with ``measured_as``).

Since session 7686c66 molecules' rows are its default grid with the head-only towers its
recipes now have (``MOLECULES_GRID``, made with ties counted by expectation and sclip as it is
now, so neither the rescored cells nor the sclip column replace its rows), and since session
e2fc655 its gentle column is ``MOLECULES_GENTLE``, the gentle cells of its cheaper recipe with
the bag term. ``SOURCES_WIDE_MOLECULES`` keeps the tables of sessions 7686c66 to 25594be and
``SOURCES_MLP_MOLECULES`` the tables before those, which the earlier sessions' reports compare
with (``table_rows(..., SOURCES_MLP_MOLECULES)``; ``EDITIONS`` names each).

Writes ``OUT/tables.md`` (one table per suite, then gentle against the best baseline) and the
suite plots ``OUT/SUITE-pairs-REGIME.png`` and ``OUT/SUITE-bagsize-pairs20.png``, and the
disjoint-data plots ``OUT/SUITE-disjoint-nbr.png`` (with the ``disjoint`` group's rows).

    python benchmarks/published_tables.py --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gentleclip.evaluation.report import atomic_path
from gentleclip.experiments import bench

# molecules' default grid with its recipe's head-only towers (512 wide, unstandardised
# fingerprints) and the closed-form maps on centred features, made with --search full (the
# grid ran with --recipe-override / --baseline-override equal to what became the defaults)
MOLECULES_SESSION = "7686c66"
MOLECULES_GRID = f"bench-molecules-heads512-grid-{MOLECULES_SESSION}.jsonl"
# since session e2fc655 molecules' gentle column is its recipe's gentle cells over the default
# grid (--search full), the recipe then made cheaper and given the bag term; the other methods'
# recipes did not change, so their cells stay MOLECULES_GRID's
MOLECULES_GENTLE_SESSION = "e2fc655"
MOLECULES_GENTLE = f"bench-molecules-gentle-full-{MOLECULES_GENTLE_SESSION}.jsonl"
# (rows file, regimes taken from it, methods taken from it; None: all)
Source = tuple[str, tuple[str, ...] | None, tuple[str, ...] | None]
Sources = dict[str, tuple[Source, ...]]
# suite -> the sources its table is made from
SOURCES: Sources = {
    "mfeat": (("bench-mfeat.jsonl", None, None),),
    "emoji": (
        ("bench-emoji-rerun.jsonl", None, None),
        ("bench-domains.jsonl", ("natural",), None),
    ),
    "molecules": (
        (MOLECULES_GRID, None, tuple(m for m in bench.METHOD_GROUPS["compare"] if m != "gentle")),
        (MOLECULES_GENTLE, None, ("gentle",)),
    ),
    "proteins": (("bench-proteins.jsonl", None, None),),
}
# the tables before session MOLECULES_GENTLE_SESSION: molecules' gentle column from
# MOLECULES_GRID, made with the recipe now named molecules-gentle-wide (512 wide, 2,000 steps,
# no bag term). The reports of sessions MOLECULES_SESSION to 25594be compare with these rows.
SOURCES_WIDE_MOLECULES: Sources = {**SOURCES, "molecules": ((MOLECULES_GRID, None, None),)}
# the tables before molecules' recipe took head-only towers (session MOLECULES_SESSION): its
# mlp towers over standardised fingerprints, closed-form maps on standardised features. The
# reports of earlier sessions (ten-seed checks, bag means, ties, refit, machines, sclip's
# variants) were made beside these rows and compare with them.
SOURCES_MLP_MOLECULES: Sources = {
    **SOURCES,
    "molecules": (("bench-molecules-rerun.jsonl", None, None),),
}
# the editions of the tables a report can compare with, by name (``--tables``)
EDITIONS: dict[str, Sources] = {
    "now": SOURCES,
    "wide-molecules": SOURCES_WIDE_MOLECULES,
    "mlp-molecules": SOURCES_MLP_MOLECULES,
}
# the closed-form baselines' cells of SOURCES made again in session 2af79bb with ties counted
# by their expectation under random tie-breaking (``--ties expected``); the grids' rows
# counted a tie as a hit. Each row replaces the row of the same cell (:func:`rescored`).
RESCORED = ("bench-ties-grid-2af79bb.jsonl", "bench-ties-natural-2af79bb.jsonl")
# suite -> the rows file of its disjoint-data candidates (group "disjoint"), drawn with the
# suite's disjoint (unpaired) rows as OUT/SUITE-disjoint-nbr.png
DISJOINT_PLOTS = {
    "mfeat": "bench-mfeat-disjoint.jsonl",
    "emoji": "bench-disjoint-suites.jsonl",
    "proteins": "bench-proteins.jsonl",
}
# the name sclip's current settings were measured under before they became its defaults
SCLIP_AS_MEASURED = "sclip-plan-grad"
# the tables' sclip column (in docs/bench): session c68564f's run of ``sclip`` as it is now,
# a bags split read as two sets (bench.as_sets)
SCLIP_ROWS = "bench-sclip-sets-c68564f.jsonl"
# the column before that, session f65ce9c's run as SCLIP_AS_MEASURED, whose steps packed whole
# bags; the reports on sclip's variants (each run that way) still compare with it
SCLIP_PACKED_ROWS = "bench-sclip-f65ce9c.jsonl"
COMPARE = bench.METHOD_GROUPS["compare"]


def _key(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return (row["suite"], row["regime"], int(row["pairs"]), int(row["seed"]))


def read_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every row of the bench result files, in order (validated as the bench reads them), or
    exit naming each file that is missing."""
    paths = list(paths)  # read twice below: a generator would be empty the second time
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"no such rows file: {', '.join(missing)}")
    return [row for path in paths for row in bench.read_results(path)]


def read(path: Path) -> list[dict[str, Any]]:
    """One rows file (:func:`read_rows`)."""
    return read_rows([path])


def made_with(row: dict[str, Any]) -> dict[str, Any]:
    """The overrides a row was made with (``--recipe-override``, ``--baseline-override``):
    the settings that tell two rows of one cell apart; {} for none."""
    return {name: row[name] for name in bench.UNSET_SETTINGS if row.get(name)}


def rescored(rows: list[dict[str, Any]], newer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every cell that ``newer`` holds with the same overrides replaced by its
    row there, in place (a row made with another setting is another measurement)."""
    new = {bench._row_key(r): r for r in newer}
    return [
        new[key] if (key := bench._row_key(r)) in new and made_with(r) == made_with(new[key]) else r
        for r in rows
    ]


def grid_rows(
    bench_dir: Path, *, rescore: bool = True, sources: Sources = SOURCES
) -> list[dict[str, Any]]:
    """The ``compare`` rows of every suite's sources, in file order, the closed-form
    baselines' cells taken from ``RESCORED`` (unless ``rescore`` is False) where made with
    the same settings."""
    rows = []
    for suite, files in sources.items():
        for name, regimes, methods in files:
            rows += [
                row
                for row in read(bench_dir / name)
                if row["suite"] == suite
                and row["method"] in (COMPARE if methods is None else methods)
                and (regimes is None or row["regime"] in regimes)
            ]
    if not rescore:
        return rows
    return rescored(rows, read_rows([bench_dir / name for name in RESCORED]))


def as_made_now(rows: list[dict[str, Any]], tables: list[dict[str, Any]]) -> list[dict]:
    """Rows made since session MOLECULES_SESSION without overrides, each given the overrides the
    tables' scored rows of its method were made with, else those of its suite and kind (trained
    or closed-form): the tables' molecules grid ran with overrides its recipes then took on (a
    test holds them to the recipes), so such rows compare with it as one setting. Exits where
    a row's method is not in the tables and the tables' rows of its kind carry more than one set
    (molecules' trained rows since session e2fc655: gentle's made without one)."""
    made = table_overrides(tables)
    return [row if made_with(row) else {**row, **overrides_for(made, row)} for row in rows]


Key = tuple[str, ...]


def table_overrides(tables: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """The overrides (:func:`made_with`) the tables' scored rows were made with, by (suite,
    kind, method) and, where all of a kind's rows agree, by (suite, kind); exits when the rows
    of one method carry more than one set."""
    by_method: dict[Key, list[dict[str, Any]]] = {}
    by_kind: dict[Key, list[dict[str, Any]]] = {}
    for row in (r for r in tables if r["status"] == "ok"):  # a skipped cell records no overrides
        kind = suite_kind(row)
        for key, store in (((*kind, row["method"]), by_method), (kind, by_kind)):
            found = store.setdefault(key, [])
            if made_with(row) not in found:
                found.append(made_with(row))
    mixed = [where for where, found in by_method.items() if len(found) > 1]
    if mixed:
        raise SystemExit(f"the tables' rows of {mixed[0]} were made with different overrides")
    made = {key: found[0] for key, found in by_method.items()}
    made.update((key, found[0]) for key, found in by_kind.items() if len(found) == 1)
    return made


def overrides_for(made: dict[Key, dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    """The overrides :func:`table_overrides` gives ``row``'s method, else its suite and kind
    ({} where the tables hold neither); exits where its kind's rows disagree."""
    kind = suite_kind(row)
    if (*kind, row["method"]) in made:
        return made[(*kind, row["method"])]
    if kind in made or not any(key[:2] == kind for key in made):
        return made.get(kind, {})
    raise SystemExit(f"the tables' rows of {kind} were made with different overrides")


def suite_kind(row: dict[str, Any]) -> tuple[str, str]:
    """A row's (suite, method kind), a key of :func:`table_overrides`."""
    return row["suite"], _kind(row)


def _kind(row: dict[str, Any]) -> str:
    """A row's method kind: trained, closed-form or neither (a method this bench lacks)."""
    spec = bench.METHODS.get(row["method"])
    if isinstance(spec, bench.Trained):
        return "trained"
    return "closed-form" if isinstance(spec, bench.Baseline) else "other"


def table_rows(bench_dir: Path, sclip_rows: Path, sources: Sources = SOURCES) -> list[dict]:
    """The tables' rows: :func:`grid_rows` with the sclip column from ``sclip_rows``."""
    return with_sclip_from(grid_rows(bench_dir, sources=sources), read(sclip_rows))


def with_sclip_from(rows: list[dict[str, Any]], measured: list[dict[str, Any]]) -> list[dict]:
    """``rows`` with each sclip row replaced by the cell's row in ``measured``: its ``sclip``
    row, or its ``SCLIP_AS_MEASURED`` row renamed (``measured_as`` naming that method).

    A sclip row made with a recipe override stays: the column was measured on the recipes
    as they were (such a grid ran sclip as it is now). Every other sclip row must have a
    measured row: a table half old and half new would be wrong without saying so."""
    names = ("sclip", SCLIP_AS_MEASURED)
    new = {_key(r): r for r in measured if r["method"] in names}
    replaced = [_key(r) for r in rows if _replaced(r)]
    missing = [key for key in replaced if key not in new]
    if missing:
        first = ", ".join(map(str, missing[:2]))
        raise SystemExit(f"{len(missing)} sclip cells lack a row of {' or '.join(names)}: {first}")
    return [_as_sclip(new[_key(r)]) if _replaced(r) else r for r in rows]


def _replaced(row: dict[str, Any]) -> bool:
    """Whether the sclip column replaces this row: a sclip row made without a recipe override."""
    return row["method"] == "sclip" and not row.get("recipe_override")


def _as_sclip(row: dict[str, Any]) -> dict[str, Any]:
    if row["method"] == "sclip":
        return row
    return {**row, "method": "sclip", "measured_as": row["method"]}


def disjoint_plots(rows: list[dict[str, Any]], bench_dir: Path, out: Path) -> list[Path]:
    """Headline vs pairs on disjoint data: the table's methods but the oracle, and the
    disjoint candidates."""
    written = []
    for suite, name in DISJOINT_PLOTS.items():
        candidates = [
            r
            for r in read(bench_dir / name)
            if r["suite"] == suite and r["method"] in bench.DISJOINT
        ]
        unpaired = [
            r
            for r in rows
            if r["suite"] == suite and r["regime"] == "unpaired" and r["method"] != "oracle"
        ]
        with tempfile.TemporaryDirectory(dir=out) as tmp:  # same file system: atomic rename
            (drawn,) = bench.write_plots([*unpaired, *candidates], Path(tmp))
            written.append(out / f"{suite}-disjoint-nbr.png")
            os.replace(drawn, written[-1])
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True, help="folder of the rows files")
    parser.add_argument("--sclip-rows", type=Path, required=True, help="the sclip column's rows")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = table_rows(args.bench, args.sclip_rows)
    text = bench.render_markdown(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "tables.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plots = bench.write_plots(rows, args.out, plot_pairs=20)
    plots += disjoint_plots(rows, args.bench, args.out)
    print(text)
    print(f"tables: {args.out / 'tables.md'}, {len(plots)} plots in {args.out}")


if __name__ == "__main__":
    main()
