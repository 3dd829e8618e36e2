"""Worker for the 2-process gloo parity test of the loss modules (imported by the spawn).

Each case is built identically (seeded) in every process: a tiny shared ``nn.Linear``
encoder maps raw inputs to embeddings and a loss module with ``gather_distributed=True``
is applied. Ranks hold different numbers of rows; the single-process reference runs the
same case on the concatenated global batch.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from gentleclip.losses import (
    BagCLIPLoss,
    CLIPLoss,
    MKMMDLoss,
    NeighbourhoodLoss,
    NTXentLoss,
    SDDLoss,
)

CASES = ("clip", "sdd", "mmd", "ntxent", "nbr", "bag")
WORLD_SIZE = 2
# rows per rank for each input of each case (rank 0, rank 1); a 0 tests an empty rank
ROWS: dict[str, dict[str, tuple[int, int]]] = {
    "clip": {"a": (2, 3), "ea": (3, 1), "eb": (0, 2)},
    "sdd": {"a": (3, 5), "b": (4, 2)},
    "mmd": {"a": (3, 5), "b": (4, 2)},
    "ntxent": {"z": (2, 3)},
    "nbr": {"z": (4, 3)},
    "bag": {"a": (5, 4), "b": (2, 7)},
}
# bag ids of the "bag" case's rows: bags 0-3 split over both ranks; bag 4 has A rows only
BAG_IDS = {"ia": [0, 1, 2, 4, 3, 0, 1, 2, 3], "ib": [3, 0, 1, 2, 3, 2, 1, 0, 2]}


def build_case(name: str) -> tuple[nn.Module, nn.Linear, dict[str, Tensor]]:
    """Seeded (loss module, encoder, global raw inputs) for ``name``."""
    torch.manual_seed(0)
    encoder = nn.Linear(4, 3).double()
    modules: dict[str, nn.Module] = {
        "clip": CLIPLoss(learnable_scale=True, extra_negatives=True, gather_distributed=True),
        "sdd": SDDLoss(leave_one_out=True, normalize=True, gather_distributed=True),
        "mmd": MKMMDLoss(unbiased=True, gather_distributed=True),
        "ntxent": NTXentLoss(temperature=0.2, gather_distributed=True),
        "nbr": NeighbourhoodLoss(temperature=0.3, bandwidth=0.5, gather_distributed=True),
        "bag": BagCLIPLoss(temperature=0.2, gather_distributed=True),
    }
    module = modules[name].double()
    inputs = {
        key: torch.randn(sum(rows), 4, dtype=torch.float64) for key, rows in ROWS[name].items()
    }
    if name == "clip":
        inputs["b"] = inputs["a"] + 0.3 * torch.randn_like(inputs["a"])
    if name == "ntxent":
        inputs["z2"] = inputs["z"] + 0.3 * torch.randn_like(inputs["z"])
    if name == "mmd":
        inputs["b"] = inputs["b"] + 1.0
    if name == "bag":
        inputs.update({key: torch.tensor(ids) for key, ids in BAG_IDS.items()})
    return module, encoder, inputs


def local_inputs(name: str, inputs: dict[str, Tensor], rank: int) -> dict[str, Tensor]:
    """The slice of every global input held by ``rank``."""
    out = {}
    for key, x in inputs.items():
        rows = ROWS[name][key if key in ROWS[name] else _paired_key(key)]
        start = sum(rows[:rank])
        out[key] = x[start : start + rows[rank]]
    return out


def _paired_key(key: str) -> str:
    """Inputs derived row-by-row from another input share its split."""
    return {"b": "a", "z2": "z", "ia": "a", "ib": "b"}[key]


def compute_loss(name: str, module: nn.Module, encoder: nn.Linear, x: dict[str, Tensor]) -> Tensor:
    """Loss of one case on the given (local or global) raw inputs."""
    if name == "clip":
        emb = {k: F.normalize(encoder(v), dim=1) for k, v in x.items()}
        return module(emb["a"], emb["b"], emb["ea"], emb["eb"])
    if name == "ntxent":
        return module(encoder(x["z"]), encoder(x["z2"]))
    if name == "nbr":  # the raw rows are the input-space target of their embeddings
        return module(x["z"], F.normalize(encoder(x["z"]), dim=1))
    if name == "bag":
        emb = {k: F.normalize(encoder(x[k]), dim=1) for k in ("a", "b")}
        return module(emb["a"], emb["b"], x["ia"], x["ib"])
    return module(encoder(x["a"]), encoder(x["b"]))


def grads(module: nn.Module, encoder: nn.Linear) -> dict[str, Tensor]:
    """Gradients of all parameters of the case, keyed by name."""
    named = [*encoder.named_parameters("enc"), *module.named_parameters("loss")]
    return {k: p.grad.detach().clone() for k, p in named if p.grad is not None}


def run_worker(rank: int, port: int, out_dir: str) -> None:
    """Spawned entry point: compute every case with gathering, average grads like DDP."""
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=timedelta(seconds=60),
    )
    try:
        results = {}
        for name in CASES:
            module, encoder, inputs = build_case(name)
            loss = compute_loss(name, module, encoder, local_inputs(name, inputs, rank))
            loss.backward()
            averaged = {}
            for key, g in grads(module, encoder).items():
                dist.all_reduce(g, op=dist.ReduceOp.SUM)
                averaged[key] = g / WORLD_SIZE
            results[name] = {"loss": loss.detach(), "grads": averaged}
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        close_group(rank, out_dir)
    exit_now()


def exit_now() -> None:
    """Exit 0 at once, skipping the interpreter's teardown; call it only once all is saved.

    At teardown gloo's threads now and then abort a rank after its results are written
    ("terminate called without an active exception", SIGABRT, exit -6), which fails a test
    whose results are correct. Everything is saved and the group closed by now, so nothing
    is lost by not tearing down.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def close_group(rank: int, out_dir: str | Path) -> None:
    """Destroy the group with rank 0 (the TCP store's host) last, so no rank loses its peer."""
    if rank != 0:
        dist.destroy_process_group()
        Path(out_dir, f"closed{rank}").touch()
        return
    deadline = time.monotonic() + 30.0
    others = [Path(out_dir, f"closed{r}") for r in range(1, WORLD_SIZE)]
    while not all(p.exists() for p in others) and time.monotonic() < deadline:
        time.sleep(0.01)
    dist.destroy_process_group()
