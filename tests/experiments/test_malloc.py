"""The bench workers' allocator: which library, how it reaches the workers, same weights."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gentleclip.errors import InputError
from gentleclip.experiments import bench, malloc

FOUND = "libtcmalloc_minimal.so.4"
NOT_INSTALLED = f"no libtcmalloc on this machine ({malloc.INSTALL_HINT})"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(malloc, "find_tcmalloc", lambda: FOUND)


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(malloc, "find_tcmalloc", lambda: None)


def test_auto_preloads_tcmalloc_into_workers_when_installed(installed: None) -> None:
    assert malloc.worker_library("auto", 2) == FOUND
    assert malloc.worker_library("tcmalloc", 2) == FOUND
    assert malloc.worker_library("system", 2) is None
    assert malloc.worker_library("auto", 1) is None  # the grid runs in this process
    assert "tcmalloc (libtcmalloc_minimal.so.4) preloaded into the 2 workers" in (
        malloc.describe(FOUND, "auto", 2)
    )


def test_auto_without_tcmalloc_uses_the_system_allocator_and_says_how_to_install(
    missing: None,
) -> None:
    assert malloc.worker_library("auto", 2) is None
    line = malloc.describe(None, "auto", 2)
    assert "no libtcmalloc found" in line and malloc.INSTALL_HINT in line
    assert malloc.describe(None, "system", 2) == "allocator: the system's"


@pytest.mark.parametrize(
    ("choice", "workers", "fixture", "pattern"),
    [
        ("jemalloc", 2, "installed", "unknown --allocator 'jemalloc'"),
        ("tcmalloc", 1, "installed", "use --workers 2 or more"),
        ("tcmalloc", 2, "missing", malloc.INSTALL_HINT),
    ],
)
def test_a_choice_that_cannot_be_honoured_is_refused(
    request: pytest.FixtureRequest, choice: str, workers: int, fixture: str, pattern: str
) -> None:
    request.getfixturevalue(fixture)
    with pytest.raises(InputError, match=pattern):
        malloc.worker_library(choice, workers)


def test_preload_goes_first_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with malloc.preloaded_in_children("liba.so"):
        assert os.environ["LD_PRELOAD"] == "liba.so"
    assert "LD_PRELOAD" not in os.environ
    monkeypatch.setenv("LD_PRELOAD", "libb.so")
    with malloc.preloaded_in_children("liba.so"):
        assert os.environ["LD_PRELOAD"] == "liba.so libb.so"
    assert os.environ["LD_PRELOAD"] == "libb.so"
    with malloc.preloaded_in_children(None):
        assert os.environ["LD_PRELOAD"] == "libb.so"


def test_bench_workers_start_with_the_library_preloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's children see it in LD_PRELOAD; this process never does."""
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    library = malloc.find_tcmalloc() or "libgentleclip-test-absent.so"  # absent: ld.so ignores
    with bench._executor(2, library) as pool:
        seen = pool.apply(os.getenv, ("LD_PRELOAD",))
        threads = pool.apply(os.getenv, ("OMP_NUM_THREADS",))
    assert (seen, threads) == (library, "1")
    assert "LD_PRELOAD" not in os.environ


# Prints whether tcmalloc is mapped into the process, then the SHA-256 of the weights after
# 60 reference steps (the proteins gentle recipe on synthetic data, one torch thread).
DIGEST = """
import hashlib
from pathlib import Path
from gentleclip.experiments import speed
from gentleclip.recipes import load_recipe
config = load_recipe("proteins-gentle").to_dict()
config["seed"] = 0
config["trainer"]["progress"] = False
config["optim"].update(steps=60, epochs=None)
data = speed.RegimeData.from_arrays(speed.reference_arrays())
run = speed.InProcessRun(data, speed.config_from_dict(config))
with speed.one_torch_thread():
    run.advance(60)
digest = hashlib.sha256()
for _, tensor in sorted(run.module.state_dict().items()):
    digest.update(tensor.detach().contiguous().numpy().tobytes())
print("tcmalloc" in Path("/proc/self/maps").read_text(), digest.hexdigest())
"""


def _digest(preload: str | None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update({} if preload is None else {"LD_PRELOAD": preload})
    done = subprocess.run(
        [sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    loaded, digest = done.stdout.split()
    return loaded, digest


@pytest.mark.skipif(malloc.find_tcmalloc() is None, reason=NOT_INSTALLED)
def test_tcmalloc_is_loaded_and_trains_the_same_weights() -> None:
    """A process with tcmalloc preloaded ends a training run with the same weights, bit for
    bit, as one on the system allocator."""
    system = _digest(None)
    assert system[0] == "False"
    assert _digest(malloc.find_tcmalloc()) == ("True", system[1])
