"""Row-chunked (memory-bounded) SDD, MK-MMD and CLIP kernels against the full-matrix path.

Values and gradients must equal the full-matrix functionals (float64; the requirement is
1e-5 relative, checked here far tighter) for chunk sizes that divide the row count, do not,
are 1, and exceed it; no intermediate tensor may hold a whole B x B matrix.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from gentleclip.errors import InputError
from gentleclip.losses import CLIPLoss, MKMMDLoss, SDDLoss
from gentleclip.losses import chunked as LC
from gentleclip.losses import functional as LF
from gentleclip.training.config import LossConfig, config_from_dict
from gentleclip.training.objective import GentleObjective

CHUNKS = (1, 3, 4, 64)  # 3 does not divide 11 or 8; 64 exceeds every row count below


def _rand(rows: int, dim: int, *, seed: int, shift: float = 0.0, unit: bool = False) -> Tensor:
    x = torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x + shift
    if unit:
        x = F.normalize(x, dim=1)
    return x.requires_grad_(True)


def _assert_close_with_grads(
    got: Tensor,
    want: Tensor,
    inputs: list[Tensor],
    rtol: float = 1e-9,
    got_grads: tuple[Tensor, ...] | None = None,
) -> None:
    """Values to ``rtol``; every gradient to ``rtol`` relative to its largest entry.

    ``got_grads`` replaces the gradients of ``got`` with respect to ``inputs`` (for a value
    computed from other leaves, e.g. in another dtype).
    """
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * abs(want.item()))
    if got_grads is None:
        got_grads = torch.autograd.grad(got, inputs, retain_graph=True)
    g_want = torch.autograd.grad(want, inputs, retain_graph=True)
    for x, y in zip(got_grads, g_want, strict=True):
        scale = float(y.abs().max())
        assert scale > 0.0
        torch.testing.assert_close(x.to(y.dtype), y, rtol=rtol, atol=rtol * scale)


SDD_OPTIONS = [
    {"bandwidth": 0.6, "leave_one_out": loo, "spread": spread, "normalize": norm}
    for loo, norm, spread in itertools.product(
        [False, True], [False, True], ["range", "variance", "none"]
    )
]
MMD_OPTIONS = [
    {"bandwidths": None, "unbiased": False},
    {"bandwidths": None, "unbiased": True, "multipliers": (0.5, 1.0, 3.0)},
    {"bandwidths": (0.7, 2.0, 9.0), "unbiased": False},
    {"bandwidths": (0.7, 2.0, 9.0), "unbiased": True},
]


# --------------------------------------------------------------------------------------------
# equality with the full-matrix path
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("sdd_opts", SDD_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_sdd_chunked_matches_full(chunk: int, sdd_opts: dict[str, Any]) -> None:
    a, b = _rand(11, 3, seed=1), _rand(8, 3, seed=2, shift=0.6)
    got = LF.sdd_loss(a, b, **sdd_opts, chunk_size=chunk)
    _assert_close_with_grads(got, LF.sdd_loss(a, b, **sdd_opts), [a, b])


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("mmd_opts", MMD_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_mmd_chunked_matches_full(chunk: int, mmd_opts: dict[str, Any]) -> None:
    a, b = _rand(8, 4, seed=3), _rand(11, 4, seed=4, shift=0.5)
    got = LF.mk_mmd(a, b, **mmd_opts, chunk_size=chunk)
    _assert_close_with_grads(got, LF.mk_mmd(a, b, **mmd_opts), [a, b])


@pytest.mark.parametrize(("n", "m", "chunk"), [(11, 8, 3), (5, 13, 4), (2, 2, 1), (9, 9, 64)])
def test_sdd_and_mmd_chunked_share_pass_and_match_full(n: int, m: int, chunk: int) -> None:
    a, b = _rand(n, 3, seed=5), _rand(m, 3, seed=6, shift=0.4)
    sdd = {"leave_one_out": True, "spread": "variance", "normalize": True}
    mmd = {"unbiased": True}
    got = LF.sdd_and_mmd(a, b, sdd=sdd, mmd=mmd, chunk_size=chunk)
    want = LF.sdd_and_mmd(a, b, sdd=sdd, mmd=mmd)
    assert set(got) == {"sdd", "mmd"}
    _assert_close_with_grads(got["sdd"] + 0.3 * got["mmd"], want["sdd"] + 0.3 * want["mmd"], [a, b])
    assert set(LF.sdd_and_mmd(a, b, mmd={}, chunk_size=chunk)) == {"mmd"}


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize(("extra_a", "extra_b", "learned"), [(0, 0, False), (3, 5, True)])
def test_clip_chunked_matches_full(chunk: int, extra_a: int, extra_b: int, learned: bool) -> None:
    a = _rand(9, 5, seed=7, unit=True)
    b = F.normalize(a.detach() + 0.4 * _rand(9, 5, seed=8).detach()).requires_grad_(True)
    ea = _rand(extra_a, 5, seed=9, unit=True) if extra_a else None
    eb = _rand(extra_b, 5, seed=10, unit=True) if extra_b else None
    scale = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    kwargs: dict[str, Any] = {"logit_scale": scale} if learned else {"temperature": 0.2}
    got = LF.clip_loss(a, b, extra_a=ea, extra_b=eb, chunk_size=chunk, **kwargs)
    want = LF.clip_loss(a, b, extra_a=ea, extra_b=eb, **kwargs)
    inputs = [a, b] + [x for x in (ea, eb) if x is not None] + ([scale] if learned else [])
    _assert_close_with_grads(got, want, inputs)


def test_float32_chunked_as_accurate_as_full() -> None:
    # float32 rounding alone moves both paths ~1e-5 away from float64 (the MMD value is a
    # difference of near-equal means); the chunked one must stay within 1e-4 of float64.
    a64 = _rand(160, 16, seed=11, unit=True)
    b64 = _rand(140, 16, seed=12, shift=0.05, unit=True)
    a32 = a64.detach().float().requires_grad_(True)
    b32 = b64.detach().float().requires_grad_(True)
    got = LF.sdd_and_mmd(a32, b32, sdd={}, mmd={}, chunk_size=48)
    want = LF.sdd_and_mmd(a64, b64, sdd={}, mmd={})
    for key in ("sdd", "mmd"):
        assert got[key].dtype == torch.float32
        value = torch.autograd.grad(got[key], [a32, b32], retain_graph=True)
        _assert_close_with_grads(
            got[key].double(), want[key], [a64, b64], rtol=1e-4, got_grads=value
        )
    pairs = F.normalize(a64.detach() + 0.3 * a64.detach().roll(1, 0)).float()
    clip_got = LF.clip_loss(a32, pairs, chunk_size=48)
    clip_want = LF.clip_loss(a64, pairs.double())
    value = torch.autograd.grad(clip_got, [a32])
    _assert_close_with_grads(clip_got.double(), clip_want, [a64], rtol=1e-4, got_grads=value)


def test_chunked_sdd_stable_when_densities_underflow() -> None:
    a = _rand(5, 3, seed=13)
    b_far = (_rand(5, 3, seed=14).detach() + 1e4).requires_grad_(True)
    got = LF.sdd_loss(a, b_far, bandwidth=0.05, spread="none", chunk_size=2)
    want = LF.sdd_loss(a, b_far, bandwidth=0.05, spread="none")
    assert got.item() > 1e6
    _assert_close_with_grads(got, want, [a, b_far])


# --------------------------------------------------------------------------------------------
# modules and objective
# --------------------------------------------------------------------------------------------


def test_modules_pass_chunk_size_through() -> None:
    a, b = _rand(10, 4, seed=15, unit=True), _rand(7, 4, seed=16, shift=0.3, unit=True)
    pairs_b = _rand(10, 4, seed=17, unit=True)
    cases = [
        (SDDLoss(leave_one_out=True, chunk_size=3), SDDLoss(leave_one_out=True), (a, b)),
        (MKMMDLoss(unbiased=True, chunk_size=4), MKMMDLoss(unbiased=True), (a, b)),
        (CLIPLoss(chunk_size=3), CLIPLoss(), (a, pairs_b)),
    ]
    for chunked, full, inputs in cases:
        assert f"chunk_size={chunked.chunk_size}" in repr(chunked)
        _assert_close_with_grads(chunked(*inputs), full(*inputs), list(inputs))


def test_objective_with_chunk_size_matches_full() -> None:
    gen = torch.Generator().manual_seed(18)
    raw = {
        key: torch.randn(rows, 6, generator=gen, dtype=torch.float64)
        for key, rows in (("all_a", 12), ("all_b", 9))
    }
    outputs = {k: F.normalize(v, dim=1).requires_grad_(True) for k, v in raw.items()}
    outputs["pair_a"], outputs["pair_b"] = outputs["all_a"][:5], outputs["all_b"][:5]
    kwargs: dict[str, Any] = {"clip_extra_negatives": True, "w_pseudo": 0.0, "mmd_unbiased": True}
    full = GentleObjective(LossConfig(**kwargs))(outputs)
    chunked = GentleObjective(LossConfig(**kwargs, chunk_size=4))(outputs)
    assert set(chunked) == set(full) == {"clip", "sdd", "mmd", "loss"}
    leaves = [outputs["all_a"], outputs["all_b"]]
    for key in full:
        _assert_close_with_grads(chunked[key], full[key], leaves)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "8"])
def test_bad_chunk_size_raises_input_error(bad: Any) -> None:
    a, b = _rand(4, 2, seed=19), _rand(4, 2, seed=20)
    calls = [
        lambda: LF.sdd_loss(a, b, chunk_size=bad),
        lambda: LF.mk_mmd(a, b, chunk_size=bad),
        lambda: LF.clip_loss(a, b, chunk_size=bad),
        lambda: LF.sdd_and_mmd(a, b, sdd={}, chunk_size=bad),
        lambda: SDDLoss(chunk_size=bad),
        lambda: MKMMDLoss(chunk_size=bad),
        lambda: CLIPLoss(chunk_size=bad),
    ]
    for call in calls:
        with pytest.raises(InputError, match="chunk_size"):
            call()


def test_loss_config_validates_chunk_size() -> None:
    assert config_from_dict({"loss": {"chunk_size": 512}}).loss.chunk_size == 512
    assert config_from_dict(None).loss.chunk_size is None
    with pytest.raises(InputError, match=r"loss\.chunk_size"):
        config_from_dict({"loss": {"chunk_size": 0}})
    with pytest.raises(InputError, match="chunk_size"):
        config_from_dict({"loss": {"chunk_size": 2.5}})


# --------------------------------------------------------------------------------------------
# median heuristic on a subsample
# --------------------------------------------------------------------------------------------


def _loop_lower_median(points: list[Tensor]) -> float:
    """Lower median of the squared distances of all distinct pairs (plain loops)."""
    values = sorted(
        float(((points[i] - points[j]) ** 2).sum())
        for i in range(len(points))
        for j in range(i + 1, len(points))
    )
    return values[(len(values) - 1) // 2]


def test_subsample_median_is_seeded_and_matches_loop_reference() -> None:
    a, b = _rand(30, 3, seed=21).detach(), _rand(25, 3, seed=22, shift=1.0).detach()
    got = LC.subsample_median_sq_dist(a, b, sample_rows=10)
    gen = torch.Generator().manual_seed(LC.MEDIAN_SEED)
    idx_a = torch.randperm(30, generator=gen)[:10]
    idx_b = torch.randperm(25, generator=gen)[:10]
    want = _loop_lower_median([*a[idx_a], *b[idx_b]])
    assert got == pytest.approx(want, rel=1e-12)
    assert LC.subsample_median_sq_dist(a, b, sample_rows=10) == got  # reproducible
    assert LC.subsample_median_sq_dist(a, b, sample_rows=10, seed=1) != got
    # both sides within the cap: the exact full-matrix median, bit for bit
    full = LF._median_sq_dist(LF.pairwise_sq_dists(torch.cat([a, b]), torch.cat([a, b])))
    assert LC.subsample_median_sq_dist(a, b, sample_rows=30) == full
    assert LC.subsample_median_sq_dist(a, b) == full


def test_chunked_mmd_uses_the_subsampled_median() -> None:
    a, b = _rand(30, 3, seed=23), _rand(25, 3, seed=24, shift=0.5)
    median = LC.subsample_median_sq_dist(a, b, sample_rows=12)
    mults = (0.5, 2.0)
    got = LC.mk_mmd_chunked(a, b, chunk_size=7, multipliers=mults, median_sample_rows=12)
    want = LF.mk_mmd(a, b, bandwidths=[median * t for t in mults])
    _assert_close_with_grads(got, want, [a, b])


# --------------------------------------------------------------------------------------------
# memory bound: no intermediate tensor holds a B x B matrix
# --------------------------------------------------------------------------------------------


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an aten op produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for x in out if isinstance(out, tuple | list) else (out,):
            if isinstance(x, Tensor):
                self.largest = max(self.largest, x.numel())
        return out


def _largest_numel(step: Any) -> int:
    with _LargestTensor() as mode:
        step().backward()
    return mode.largest


@pytest.mark.parametrize("median_rows", [None, 16])
def test_peak_tensor_is_rows_times_chunk(median_rows: int | None) -> None:
    n, m, chunk = 72, 60, 16
    a, b = _rand(n, 4, seed=25), _rand(m, 4, seed=26, shift=0.3)
    mmd: dict[str, Any] = {"bandwidths": (1.0, 4.0)} if median_rows is None else {}

    def chunked() -> Tensor:
        out = LC.sdd_and_mmd_chunked(
            a, b, sdd={"leave_one_out": True}, mmd=mmd, chunk_size=chunk,
            median_sample_rows=median_rows or 4096,
        )  # fmt: skip
        return out["sdd"] + out["mmd"]

    bound = chunk * max(n, m)  # also covers the (16 + 16)^2-entry median subsample
    assert _largest_numel(chunked) <= bound
    assert _largest_numel(lambda: sum(LF.sdd_and_mmd(a, b, sdd={}, mmd=mmd).values())) >= n * m
    p, extra = 72, 30
    x, y = _rand(p, 4, seed=27, unit=True), _rand(p, 4, seed=28, unit=True)
    e = _rand(extra, 4, seed=29, unit=True)
    clip_peak = _largest_numel(lambda: LF.clip_loss(x, y, extra_a=e, extra_b=e, chunk_size=chunk))
    assert clip_peak <= chunk * (p + extra)


# --------------------------------------------------------------------------------------------
# gather_distributed: two gloo processes, chunked, against one process, full matrices
# --------------------------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from pathlib import Path

    import torch
    import torch.distributed as dist

    sys.path.insert(0, sys.argv[4])
    from _losses_dist_worker import close_group, exit_now
    from test_losses_chunked import build_dist_case, DIST_CASES, DIST_ROWS

    rank, port, out = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
        timeout=timedelta(seconds=60),
    )
    results = {}
    for name in DIST_CASES:
        module, encoder, inputs = build_dist_case(name, chunk_size=2)
        local = {}
        for key, x in inputs.items():
            rows = DIST_ROWS[name][key]
            start = sum(rows[:rank])
            local[key] = x[start : start + rows[rank]]
        loss = module(*(encoder(local[k]) for k in sorted(local)))
        loss.backward()
        grads = {}
        for key, p in encoder.named_parameters():
            g = p.grad.detach().clone()
            dist.all_reduce(g)
            grads[key] = g / 2
        results[name] = {"loss": loss.detach(), "grads": grads}
    torch.save(results, out / f"rank{rank}.pt")
    dist.barrier()
    close_group(rank, out)
    exit_now()
    """
)

DIST_CASES = ("sdd", "mmd", "clip")
# rows per rank (rank 0, rank 1) of every input; a 0 is an empty rank
DIST_ROWS = {
    "sdd": {"a": (3, 5), "b": (4, 2)},
    "mmd": {"a": (3, 5), "b": (4, 2)},
    "clip": {"a": (2, 3), "b": (2, 3), "c_ea": (3, 1), "d_eb": (0, 2)},
}


def build_dist_case(
    name: str, chunk_size: int | None
) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, Tensor]]:
    """Seeded (loss module, encoder, global inputs); the module takes inputs in key order."""
    torch.manual_seed(0)
    encoder = torch.nn.Linear(4, 3).double()
    gather = {"gather_distributed": True, "chunk_size": chunk_size}
    modules: dict[str, torch.nn.Module] = {
        "sdd": SDDLoss(leave_one_out=True, normalize=True, **gather),
        "mmd": MKMMDLoss(unbiased=True, **gather),
        "clip": CLIPLoss(extra_negatives=True, temperature=0.3, **gather),
    }
    inputs = {k: torch.randn(sum(r), 4, dtype=torch.float64) for k, r in DIST_ROWS[name].items()}
    if name == "clip":
        inputs["b"] = inputs["a"] + 0.3 * torch.randn_like(inputs["a"])
    else:
        inputs["b"] = inputs["b"] + 0.5
    return modules[name].double(), encoder, inputs


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)
def test_gathered_chunked_losses_match_single_process_full(tmp_path: Path) -> None:
    port, here = str(_free_port()), str(Path(__file__).parent)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(rank), port, str(tmp_path), here], env=env
        )
        for rank in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name in DIST_CASES:
        module, encoder, inputs = build_dist_case(name, chunk_size=None)
        want = module(*(encoder(inputs[k]) for k in sorted(inputs)))
        want.backward()
        for rank, got in enumerate(ranks):
            where = f"{name} rank {rank}"
            torch.testing.assert_close(got[name]["loss"], want.detach(), rtol=1e-10, atol=0)
            for key, p in encoder.named_parameters():
                torch.testing.assert_close(
                    got[name]["grads"][key], p.grad, rtol=1e-9, atol=1e-12, msg=where
                )
