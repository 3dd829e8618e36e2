"""Text tables, atomic JSON and bar-chart files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.evaluation import format_table, plot_metric_bars, write_json_atomic
from gentleclip.evaluation.report import atomic_path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GENTLE = {"a_to_b_R@1": 0.6, "a_to_b_median_rank": 12.25, "b_to_a_class_P@1": 0.8123}
CLIP = {"a_to_b_R@1": 0.3, "a_to_b_median_rank": 24.5}


def _cells(table: str, metric: str) -> list[str]:
    """Whitespace-separated cells of the row for ``metric``."""
    (row,) = [line for line in table.splitlines() if line.split()[0] == metric]
    return row.split()


def test_table_values_ratio_and_missing() -> None:
    table = format_table({"gentle": GENTLE, "clip": CLIP})
    assert table.splitlines()[0].split() == ["metric", "gentle", "clip", "gentle/clip"]
    assert _cells(table, "a_to_b_R@1") == ["a_to_b_R@1", "0.600", "0.300", "2.000"]
    assert _cells(table, "a_to_b_median_rank") == ["a_to_b_median_rank", "12.2", "24.5", "0.500"]
    assert _cells(table, "b_to_a_class_P@1") == ["b_to_a_class_P@1", "0.812", "-", "-"]


def test_table_is_fixed_width() -> None:
    lines = format_table({"gentle": GENTLE, "clip": CLIP}).splitlines()
    assert set(lines[1]) == {"-", " "}
    assert len({len(line) for line in lines}) == 1  # right-aligned numbers end together


def test_table_key_selection_and_order() -> None:
    table = format_table({"gentle": GENTLE, "clip": CLIP}, keys=["a_to_b_median_rank", "nope"])
    rows = [line.split()[0] for line in table.splitlines()[2:]]
    assert rows == ["a_to_b_median_rank", "nope"]
    assert _cells(table, "nope") == ["nope", "-", "-", "-"]


def test_table_one_and_three_columns_have_no_ratio() -> None:
    one = format_table({"gentle": GENTLE})
    assert one.splitlines()[0].split() == ["metric", "gentle"]
    three = format_table({"x": CLIP, "y": CLIP, "z": GENTLE})
    assert three.splitlines()[0].split() == ["metric", "x", "y", "z"]
    assert _cells(three, "b_to_a_class_P@1") == ["b_to_a_class_P@1", "-", "-", "0.812"]


def test_table_zero_denominator_and_numpy_values() -> None:
    table = format_table({"a": {"R@1": np.float32(0.5)}, "b": {"R@1": 0.0}})
    assert _cells(table, "R@1") == ["R@1", "0.500", "0.000", "-"]


def test_table_validation() -> None:
    with pytest.raises(InputError, match="non-empty"):
        format_table({})
    with pytest.raises(InputError, match="non-numeric"):
        format_table({"a": {"R@1": "high"}})
    with pytest.raises(InputError, match="mapping"):
        format_table({"a": [0.1]})  # type: ignore[dict-item]


def test_write_json_round_trip_sorted(tmp_path: Path) -> None:
    obj = {"zeta": 1, "alpha": {"b": [1.5, None], "a": "x"}, "np": np.float32(0.25)}
    obj["arr"] = np.arange(3)
    obj["t"] = torch.tensor([1.0, 2.0])
    obj["p"] = Path("runs/a")
    out = tmp_path / "deep" / "dir" / "metrics.json"
    write_json_atomic(out, obj)
    text = out.read_text(encoding="utf-8")
    assert json.loads(text) == {
        "zeta": 1,
        "alpha": {"a": "x", "b": [1.5, None]},
        "np": 0.25,
        "arr": [0, 1, 2],
        "t": [1.0, 2.0],
        "p": "runs/a",
    }
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert text.index('"alpha"') < text.index('"zeta"')
    assert [p.name for p in out.parent.iterdir()] == ["metrics.json"]


def test_write_json_failure_keeps_old_file(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    write_json_atomic(out, {"v": 1})
    with pytest.raises(InputError, match="JSON"):
        write_json_atomic(out, {"v": object()})
    assert json.loads(out.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_atomic_path_cleans_up_on_error(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_plot_metric_bars_png(tmp_path: Path) -> None:
    out = tmp_path / "plots" / "bars.png"
    plot_metric_bars(
        {"gentle": GENTLE, "clip": CLIP}, ["a_to_b_R@1", "b_to_a_class_P@1"], out, title="R"
    )
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000
    assert [p.name for p in out.parent.iterdir()] == ["bars.png"]


def test_plot_metric_bars_validation(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one"):
        plot_metric_bars({"a": GENTLE}, [], tmp_path / "b.png", title="t")
    with pytest.raises(InputError, match="non-empty"):
        plot_metric_bars({}, ["x"], tmp_path / "b.png", title="t")
    assert list(tmp_path.iterdir()) == []
