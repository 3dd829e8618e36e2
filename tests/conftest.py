"""Fixtures shared by the tests at the top level: loading the scripts in ``benchmarks/``."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

ScriptLoader = Callable[[str], ModuleType]


def _load(name: str) -> ModuleType:
    """The script ``benchmarks/NAME.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script() -> ScriptLoader:
    """``load_script(NAME)``: ``benchmarks/NAME.py`` as a module, for scripts that import no
    sibling script (usable from module-scoped fixtures)."""
    return _load


@pytest.fixture
def bench_script(monkeypatch: pytest.MonkeyPatch) -> ScriptLoader:
    """``bench_script(NAME)``: ``benchmarks/NAME.py`` as a module, with ``benchmarks/`` on the
    path for the test's duration so that its imports of sibling scripts resolve."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return _load
