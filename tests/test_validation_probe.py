"""benchmarks/validation_probe.py: one method with overrides, scored on validation splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def test_a_rerun_appends_only_the_seeds_not_probed_yet(
    bench_script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validation_probe.py appends to its file; a seed already probed with the same suite,
    regime, method, pairs and override is skipped, so reruns leave no duplicate rows."""
    script = bench_script("validation_probe")
    calls = []

    def fake(suite: str, method: str, pairs: int, seed: int, override: dict, regime: str) -> dict:
        calls.append(seed)
        row = {"suite": suite, "regime": regime, "method": method, "pairs": pairs}
        return {**row, "seed": seed, "override": override, "val": 0.5, "seconds": 1.0}

    monkeypatch.setattr(script, "probe", fake)
    out = tmp_path / "rows.jsonl"
    common = ["--suite", "molecules", "--method", "gentle", "--pairs", "10", "--out", str(out)]
    wide = ["--override", '{"model.embed_dim": 384, "optim.steps": 1000}']
    script.main([*common, "--seeds", "0,1", *wide])
    script.main(
        [*common, "--seeds", "1,2", *wide[:1], '{"optim.steps": 1000, "model.embed_dim": 384}']
    )
    script.main([*common, "--seeds", "0"])  # another override: a cell of its own
    assert calls == [0, 1, 2, 0]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["seed"], r["override"]) for r in rows][-1] == (0, {})
    assert len(rows) == len({script._key(r) for r in rows}) == 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "nope"], "unknown method 'nope'"),
        (["--override", '{"model.embed_dim": 256'], "--override is not valid JSON"),
        (["--override", "[256]"], "--override must be a JSON object"),
    ],
)
def test_bad_options_exit_with_a_line_naming_them(
    bench_script: Any, tmp_path: Path, argv: list[str], message: str
) -> None:
    """An unknown method or an override that is not a JSON object ends the script with one
    line naming it, before any split is built or row written (a KeyError or a JSON traceback
    before)."""
    script = bench_script("validation_probe")
    out = tmp_path / "rows.jsonl"
    with pytest.raises(SystemExit, match=message.replace("[", r"\[")):
        script.main([*argv, "--out", str(out)])
    assert not out.exists()
