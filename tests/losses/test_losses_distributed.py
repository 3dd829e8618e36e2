"""Two-process gloo parity: gathered losses + DDP-style averaging == single process."""

from __future__ import annotations

import importlib
import socket
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def worker(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The worker module, importable by name in spawned children (sys.path is inherited)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("_losses_dist_worker")


def _single_process(worker: ModuleType, name: str) -> dict:
    module, encoder, inputs = worker.build_case(name)
    loss = worker.compute_loss(name, module, encoder, inputs)
    loss.backward()
    return {"loss": loss.detach(), "grads": worker.grads(module, encoder)}


def test_gathered_losses_match_single_process(worker: ModuleType, tmp_path: Path) -> None:
    mp.start_processes(
        worker.run_worker,
        args=(_free_port(), str(tmp_path)),
        nprocs=worker.WORLD_SIZE,
        join=True,
        start_method="spawn",
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(worker.WORLD_SIZE)]
    for name in worker.CASES:
        want = _single_process(worker, name)
        assert set(want["grads"]) >= {"enc.weight", "enc.bias"}
        for rank, got in enumerate(ranks):
            where = f"{name} rank {rank}"
            torch.testing.assert_close(
                got[name]["loss"], want["loss"], rtol=0, atol=1e-10, msg=where
            )
            assert set(got[name]["grads"]) == set(want["grads"]), where
            for key, g in want["grads"].items():
                torch.testing.assert_close(
                    got[name]["grads"][key], g, rtol=0, atol=1e-10, msg=f"{where} {key}"
                )
