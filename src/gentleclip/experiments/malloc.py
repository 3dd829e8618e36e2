"""tcmalloc for the bench's worker processes, where the machine has it.

A bench cell's training step is hundreds of small torch ops, each allocating and freeing its
output. glibc's allocator hands blocks above its mmap threshold back to the kernel, so the
same buffers are mapped and page-faulted again at every step; tcmalloc keeps them. On the
2-core machine the published grids ran on, the reference step
(:func:`~gentleclip.experiments.speed.reference_step_ms`) took about 14% less time with
``libtcmalloc_minimal`` preloaded (median of six alternating runs, 4.48 against 5.19 ms), and
a training run ended with the same weights bit for bit: the allocator decides where tensors
live, not what is computed (torch aligns every CPU buffer to 64 bytes itself).

``LD_PRELOAD`` only acts when a process starts, so the library is preloaded into the spawned
workers (``--workers`` 2 or more); ``--workers 1`` runs in the calling process with its
allocator. ``auto`` (the default) uses tcmalloc when the dynamic linker can find it and says
how to install it when not; nothing is downloaded.

Example::

    library = worker_library("auto", workers=2)   # "libtcmalloc_minimal.so.4" or None
    with preloaded_in_children(library):
        pool = multiprocessing.get_context("spawn").Pool(2)
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

from gentleclip.errors import InputError
from gentleclip.experiments.speed import environment_for_children

ALLOCATORS = ("auto", "tcmalloc", "system")
LIBRARIES = ("tcmalloc_minimal", "tcmalloc")
INSTALL_HINT = "apt-get install libtcmalloc-minimal4"


def find_tcmalloc() -> str | None:
    """The tcmalloc library the dynamic linker would load (a file name), or None."""
    for name in LIBRARIES:
        found = ctypes.util.find_library(name)
        if found:
            return found
    return None


def worker_library(choice: str, workers: int) -> str | None:
    """The library to preload into ``workers`` spawned workers for ``--allocator choice``.

    None means the system allocator: ``system``, one worker (the grid runs in this process),
    or ``auto`` without tcmalloc installed. ``tcmalloc`` that cannot be honoured is an error.
    """
    if choice not in ALLOCATORS:
        raise InputError(f"unknown --allocator {choice!r}; expected one of {', '.join(ALLOCATORS)}")
    if choice == "system":
        return None
    if workers <= 1:
        if choice == "tcmalloc":
            raise InputError(
                "--allocator tcmalloc is preloaded into worker processes, and --workers 1 runs "
                "the grid in this process; use --workers 2 or more, or --allocator system"
            )
        return None
    found = find_tcmalloc()
    if found is None and choice == "tcmalloc":
        raise InputError(
            f"--allocator tcmalloc: no libtcmalloc on this machine ({INSTALL_HINT}), "
            "or use --allocator auto"
        )
    return found


def describe(library: str | None, choice: str, workers: int) -> str:
    """One log line: which allocator the workers use, and how to get tcmalloc if missing."""
    if library is not None:
        return f"allocator: tcmalloc ({library}) preloaded into the {workers} workers"
    if choice == "auto" and workers > 1:
        return (
            "allocator: the system's (no libtcmalloc found; `"
            f"{INSTALL_HINT}` makes training steps about 14% faster, same results)"
        )
    return "allocator: the system's"


@contextmanager
def preloaded_in_children(library: str | None) -> Iterator[None]:
    """Processes started inside preload ``library`` (nothing changes for None).

    It goes first in ``LD_PRELOAD``, before anything already there; the variable is
    restored on exit, so this process and later children are unaffected.
    """
    saved = os.environ.get("LD_PRELOAD")
    preload = {} if library is None else {"LD_PRELOAD": f"{library} {saved}" if saved else library}
    with environment_for_children(preload):
        yield
