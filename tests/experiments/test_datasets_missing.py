"""A dataset whose packages are missing is a one-line error naming how to install them, also
when its builder imports a package only once it runs."""

from __future__ import annotations

import sys
import types

import pytest

from gentleclip.errors import InputError
from gentleclip.experiments import datasets
from gentleclip.experiments.datasets import DatasetEntry
from gentleclip.experiments.demo import DemoSetting


def _lazy_builder() -> None:
    import gentleclip_no_such_package  # noqa: F401  (the builder's lazy import)


@pytest.mark.parametrize("where", ["module", "builder"])
def test_missing_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    module = types.ModuleType("gentleclip_fake_dataset")
    module.build = _lazy_builder  # type: ignore[attr-defined]
    if where == "builder":
        monkeypatch.setitem(sys.modules, "gentleclip_fake_dataset", module)
    name = "gentleclip_fake_dataset" if where == "builder" else "gentleclip_absent_module"
    item = DatasetEntry(name, "install", "build", DemoSetting(dataset="fake"), "fake files")
    monkeypatch.setitem(datasets.DATASETS, "fake", item)
    with pytest.raises(InputError, match=r"needs fake files .*run `gentleclip data install fake`"):
        datasets.build("fake")
