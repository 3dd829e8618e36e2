"""metrics.csv: the header names every term, and a log written under the older header resumes."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

from gentleclip.training.steplog import COLUMNS, OLD_COLUMNS, StepCSVLogger


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_header_names_every_objective_term() -> None:
    for term in ("loss", "clip", "sdd", "mmd", "ssl_a", "ssl_b", "pseudo", "nbr_a", "nbr_b"):
        assert term in COLUMNS
    assert "bag" in COLUMNS and COLUMNS[: len(OLD_COLUMNS)] == OLD_COLUMNS


def test_resume_widens_rows_of_the_older_header(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    old = [list(OLD_COLUMNS)] + [["0", str(s), "1.5", "1.0", "", "", "", "", ""] for s in range(3)]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([*old, ["0", "3", "1."]])  # and a torn row
    trainer = SimpleNamespace(is_global_zero=True, global_step=2)
    StepCSVLogger(path).on_train_start(trainer, None)  # type: ignore[arg-type]
    header, *rows = _rows(path)
    assert header == list(COLUMNS)
    assert rows == [row + [""] * (len(COLUMNS) - len(row)) for row in old[1:3]]
    module = SimpleNamespace(last_terms={"loss": 2.0, "bag": 0.25})
    trainer = SimpleNamespace(is_global_zero=True, global_step=3, current_epoch=0)
    StepCSVLogger(path).on_train_batch_end(trainer, module, None, None, 0)  # type: ignore[arg-type]
    last = dict(zip(COLUMNS, _rows(path)[-1], strict=True))
    assert (last["step"], last["loss"], last["bag"], last["clip"]) == ("2", "2", "0.25", "")
