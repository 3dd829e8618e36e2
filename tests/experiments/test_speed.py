"""The reference step timed beside every bench run, and its ``timing.jsonl`` record."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.experiments import speed


@pytest.fixture
def threads() -> Any:
    """Run with torch on 3 threads; put the caller's count back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def _record(**overrides: Any) -> dict[str, Any]:
    record = speed.timing_record(
        before_ms=5.12345,
        after_ms=8.45671,
        wall_seconds=754.44,
        rows=[{"seconds": 1000.04}, {"seconds": 508.72}],
        workers=2,
    )
    record.update(overrides)
    return record


def test_reference_step_ms_is_a_positive_time_per_step(threads: int) -> None:
    ms = speed.reference_step_ms(3)
    assert isinstance(ms, float) and math.isfinite(ms) and ms > 0
    assert torch.get_num_threads() == threads


def test_reference_step_trains_after_a_warm_up_on_one_thread(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    original = speed.InProcessRun.advance

    def advance(self: Any, until: int, **kwargs: Any) -> Any:
        seen.append((until, torch.get_num_threads()))
        return original(self, until, **kwargs)

    monkeypatch.setattr(speed.InProcessRun, "advance", advance)
    speed.reference_step_ms(2)
    assert seen == [(speed.WARMUP_STEPS, 1), (speed.WARMUP_STEPS + 2, 1)]
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("steps", [0, -1])
def test_reference_step_ms_refuses_fewer_than_one_step(steps: int) -> None:
    with pytest.raises(InputError, match=f"got {steps}"):
        speed.reference_step_ms(steps)


def test_one_thread_restores_the_thread_count(threads: int) -> None:
    with speed.one_torch_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads
    with pytest.raises(RuntimeError, match="boom"), speed.one_torch_thread():
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == threads


def test_reference_arrays_have_proteins_shapes_and_bags_of_eight() -> None:
    arrays = speed.reference_arrays()
    shapes = {k: v.shape for k, v in arrays.items()}
    assert shapes == {
        "paired_a": (200, 256),
        "paired_b": (200, 158),
        "unpaired_a": (24, 256),
        "unpaired_b": (24, 158),
        "unpaired_a_bags": (24,),
        "unpaired_b_bags": (24,),
    }
    for side in ("a", "b"):
        assert arrays[f"paired_{side}"].dtype == np.float32
        assert arrays[f"unpaired_{side}"].dtype == np.float32
        assert np.bincount(arrays[f"unpaired_{side}_bags"]).tolist() == [8, 8, 8]
    assert arrays["unpaired_a_bags"] is not arrays["unpaired_b_bags"]


def test_reference_arrays_are_determined_by_the_seed() -> None:
    first, again, other = (
        speed.reference_arrays(0),
        speed.reference_arrays(0),
        speed.reference_arrays(1),
    )
    assert first.keys() == again.keys() == other.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["paired_a"], other["paired_a"])
    np.testing.assert_array_equal(speed.reference_arrays()["paired_a"], first["paired_a"])


def test_cpu_name_falls_back_to_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    name = speed.cpu_name()
    assert isinstance(name, str) and name

    class NoProc:
        def __init__(self, *_: Any) -> None:
            pass

        def read_text(self, **_: Any) -> str:
            raise OSError("no /proc")

    monkeypatch.setattr(speed, "Path", NoProc)
    monkeypatch.setattr(speed.platform, "processor", lambda: "")
    monkeypatch.setattr(speed.platform, "machine", lambda: "m68k")
    assert speed.cpu_name() == "m68k"
    monkeypatch.setattr(speed.platform, "machine", lambda: "")
    assert speed.cpu_name() == "unknown"


def test_timing_record_sums_worker_seconds_and_rounds() -> None:
    rows = [{"seconds": 1.04}, {"seconds": 2.02}, {"status": "skipped"}]
    record = speed.timing_record(
        before_ms=5.12345, after_ms=8.4567, wall_seconds=123.456, rows=rows, workers=3
    )
    assert record["cells"] == 3 and record["workers"] == 3
    assert record["worker_seconds"] == 3.1
    assert record["wall_seconds"] == 123.5
    assert record["reference_step_ms"] == {"before": 5.123, "after": 8.457}
    assert record["reference"] == speed.REFERENCE
    assert record["cpu"] == speed.cpu_name() and record["cpu_count"] == os.cpu_count()
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["torch"] == torch.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["finished"])
    assert json.loads(json.dumps(record)) == record
    empty = speed.timing_record(before_ms=1, after_ms=1, wall_seconds=0, rows=[], workers=1)
    assert empty["cells"] == 0 and empty["worker_seconds"] == 0


def test_append_timing_keeps_earlier_runs_and_leaves_no_temp_files(tmp_path: Path) -> None:
    first, second = _record(cells=1), _record(cells=2)
    path = speed.append_timing(tmp_path, first)
    assert path == tmp_path / speed.TIMING
    old = path.read_text(encoding="utf-8")
    assert speed.append_timing(tmp_path, second) == path
    text = path.read_text(encoding="utf-8")
    assert text.startswith(old) and len(text.splitlines()) == 2
    assert speed.read_timing(tmp_path) == [first, second]
    assert [p.name for p in tmp_path.iterdir()] == [speed.TIMING]


def test_append_timing_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = speed.append_timing(tmp_path, _record())
    old = path.read_text(encoding="utf-8")
    with pytest.raises(TypeError):
        speed.append_timing(tmp_path, _record(cpu=object()))
    assert path.read_text(encoding="utf-8") == old
    assert [p.name for p in tmp_path.iterdir()] == [speed.TIMING]


def test_read_timing_without_a_file_or_with_blank_lines(tmp_path: Path) -> None:
    assert speed.read_timing(tmp_path) == []
    (tmp_path / speed.TIMING).write_text('{"cells": 1}\n\n  \n{"cells": 2}\n')
    assert speed.read_timing(tmp_path) == [{"cells": 1}, {"cells": 2}]


def test_read_timing_of_a_damaged_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / speed.TIMING
    path.write_text(json.dumps(_record()) + '\n{"cells": 3, "wor\n')
    with pytest.raises(InputError, match="not JSON lines") as err:
        speed.read_timing(tmp_path)
    assert str(path) in str(err.value)
    with pytest.raises(InputError, match=re.escape(str(path))):
        speed.timing_lines(tmp_path)


def test_timing_lines_are_empty_without_a_file(tmp_path: Path) -> None:
    assert speed.timing_lines(tmp_path) == []
    (tmp_path / speed.TIMING).write_text("\n")
    assert speed.timing_lines(tmp_path) == []


def test_timing_lines_quote_wall_worker_time_and_both_reference_steps(tmp_path: Path) -> None:
    speed.append_timing(tmp_path, _record())
    speed.append_timing(tmp_path, _record(wall_seconds=65, cells=1, finished="T2"))
    lines = speed.timing_lines(tmp_path)
    assert speed.REFERENCE in lines[0] and lines[1] == ""
    first, second = lines[2:]
    assert "2 cells on 2 workers in 12 min 34 s wall" in first
    assert "1508.8 worker-seconds" in first
    assert "reference step 5.123 ms before, 8.457 ms after" in first
    kernels = torch.backends.cpu.get_cpu_capability()
    assert (
        f"({speed.cpu_name()}, kernels {kernels}, torch {torch.__version__}, system malloc, "
        "denormals keep)" in first
    )
    assert second.startswith("- T2: 1 cells") and "in 1 min 05 s wall" in second
    speed.append_timing(tmp_path, _record(allocator="tcmalloc"))
    assert speed.timing_lines(tmp_path)[-1].endswith(", tcmalloc malloc, denormals keep)")
    speed.append_timing(tmp_path, _record(denormals="flush"))
    assert speed.timing_lines(tmp_path)[-1].endswith(", system malloc, denormals flush)")
    record = dict(_record())
    del record["denormals"]  # runs recorded before the option kept them
    del record["cpu_capability"]  # and did not record their kernels
    speed.append_timing(tmp_path, record)
    assert speed.timing_lines(tmp_path)[-1].endswith(", system malloc, denormals keep)")
    assert f"({speed.cpu_name()}, torch " in speed.timing_lines(tmp_path)[-1]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 min 00 s"), (59.4, "0 min 59 s"), (59.6, "1 min 00 s"), (3725, "62 min 05 s")],
)
def test_wall_time_is_minutes_and_two_digit_seconds(
    tmp_path: Path, seconds: float, shown: str
) -> None:
    speed.append_timing(tmp_path, _record(wall_seconds=seconds))
    assert f"in {shown} wall" in speed.timing_lines(tmp_path)[2]


def test_timing_lines_of_a_partial_record_show_question_marks(tmp_path: Path) -> None:
    (tmp_path / speed.TIMING).write_text('{"cells": 4}\n')
    (line,) = speed.timing_lines(tmp_path)[2:]
    assert line.startswith("- ?: 4 cells on ? workers in ? wall, ? worker-seconds")
    assert "reference step ? ms before, ? ms after" in line
