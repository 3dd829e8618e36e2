"""benchmarks/stacked_runs.py: several runs stacked into one step, timed per run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F


def _piece(tensor: torch.Tensor, index: int, run: int, runs: int) -> torch.Tensor:
    """Run ``run``'s part of a stacked tower weight (``index`` 0: the first weight's rows)."""
    if index == 0:
        rows = tensor.shape[0] // runs
        return tensor[run * rows : (run + 1) * rows]
    return tensor[run : run + 1]


def _alone(params: list[torch.Tensor], run: int, runs: int) -> list[torch.Tensor]:
    """Run ``run``'s weights of a stack as a stack of one (fresh leaves)."""
    return [_piece(p, i, run, runs).detach().clone().requires_grad_() for i, p in enumerate(params)]


def test_each_stacked_run_gets_the_loss_and_gradients_it_would_get_alone(
    bench_script: Any,
) -> None:
    script = bench_script("stacked_runs")
    runs, rows, pairs, gen = 3, 7, 3, torch.Generator().manual_seed(1)
    pa, pb = script.tower_params(runs, 64, 8, gen), script.tower_params(runs, 16, 8, gen)
    bits = torch.randint(0, 64, (runs, rows, 4), generator=gen)
    xb = torch.randn(runs, rows, 16, generator=gen)

    def loss(qa: list[torch.Tensor], qb: list[torch.Tensor], sl: slice) -> torch.Tensor:
        za, zb = script.tower_a(bits[sl], qa, 0.0), script.tower_b(xb[sl], qb, 0.0)
        return script.stacked_loss(za, zb, pairs)

    stacked = loss(pa, pb, slice(None))
    stacked.backward()
    alone = []
    for r in range(runs):
        qa, qb = _alone(pa, r, runs), _alone(pb, r, runs)
        alone.append(loss(qa, qb, slice(r, r + 1)))
        alone[-1].backward()
        for whole, own in ((pa, qa), (pb, qb)):
            for i, (p, q) in enumerate(zip(whole, own, strict=True)):
                torch.testing.assert_close(_piece(p.grad, i, r, runs), q.grad)
    torch.testing.assert_close(stacked, torch.stack(alone).sum())


def test_the_loss_is_clip_on_the_pairs_plus_the_distribution_terms(bench_script: Any) -> None:
    """Without pairs only the density match and MMD are left (positive for two different
    sets); the pairs add CLIP as written from the formula: the mean of both directions'
    cross-entropy over the pairs at temperature 0.05."""
    script, gen = bench_script("stacked_runs"), torch.Generator().manual_seed(2)
    za = torch.nn.functional.normalize(torch.randn(1, 6, 4, generator=gen), dim=-1)
    zb = torch.nn.functional.normalize(torch.randn(1, 6, 4, generator=gen), dim=-1)
    without = script.stacked_loss(za, zb, 0)
    assert without > 0
    logits = za[0, :3] @ zb[0, :3].T / 0.05
    target = torch.arange(3)
    clip = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    torch.testing.assert_close(script.stacked_loss(za, zb, 3) - without, clip)


def _record(real: float, stacked: dict[str, float]) -> dict[str, Any]:
    return {
        "cpu": "some CPU",
        "torch": "2.13.0",
        "pairs": 20,
        "rows": 52,
        "steps": 10,
        "real_step_ms": real,
        "stacked_step_ms": stacked,
    }


def test_the_table_gives_each_run_s_time_against_one_alone(bench_script: Any) -> None:
    text = bench_script("stacked_runs").report(_record(8.0, {"1": 6.0, "2": 10.0, "5": 40.0}))
    assert "| real molecules-gentle step (sparse first layer) | 8.00 | 8.00 | |" in text
    assert "| stacked, 1 run | 6.00 | 6.00 | 1.00x |" in text
    assert "| stacked, 2 runs | 10.00 | 5.00 | 1.20x |" in text
    assert "| stacked, 5 runs | 40.00 | 8.00 | 0.75x |" in text
    assert "Best per-run speed-up from stacking: 1.20x." in text
    assert "some CPU, torch 2.13.0" in text


def test_a_short_run_writes_its_table_record_and_plot(bench_script: Any, tmp_path: Path) -> None:
    script = bench_script("stacked_runs")
    script.main(["--out", str(tmp_path), "--stem", "s", "--steps", "2", "--runs", "1,2"])
    record = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert set(record["stacked_step_ms"]) == {"1", "2"} and record["real_step_ms"] > 0
    assert (tmp_path / "s.md").read_text(encoding="utf-8") == script.report(record)
    assert (tmp_path / "s.png").stat().st_size > 0


def test_the_runs_must_include_one_alone(bench_script: Any) -> None:
    with pytest.raises(SystemExit, match="include 1"):
        bench_script("stacked_runs").main(["--runs", "2,5"])
