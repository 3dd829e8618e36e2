"""What a sparse first layer would save on molecules: a lever for the runtime target, measured.

Molecules' towers are the projection head alone on 2,048 fingerprint bits, of which about 1%
are set in a row. The head's first layer (2,048 -> 512) is a dense product; the same numbers
(up to summation order) come from adding the weight rows of the set bits (``index_add``),
with the weight stored as (in, out). This script times, on one torch thread:

- the first layer's forward and weight gradient, dense against index-add, on rows of the
  fingerprints' shape and density (52 rows: a step at bags of 8 with 20 pairs);
- where a real molecules gentle step goes (torch's profiler, with ``--profile``; needs the
  molecules data installed): the share of the first layer's products in the step.

It prints a table and the bound on a whole step: the layer's share times the saving. Nothing
in the library uses the index-add form (docs/results.md, "Runtime", session 6ad9b49).

    python benchmarks/sparse_first_layer.py [--profile]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from gentleclip.experiments.speed import one_torch_thread

ROWS, BITS, WIDTH, DENSITY = 52, 2048, 512, 0.011


class IndexAddLinear(torch.autograd.Function):
    """``x @ weight_t + bias`` for a sparse ``x``, by adding the rows of ``weight_t`` (in, out)
    that the non-zero entries pick; the weight gradient is built the same way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        row, col = x.nonzero(as_tuple=True)
        val = x[row, col][:, None]
        out = bias.expand(x.shape[0], -1).clone()
        out.index_add_(0, row, weight_t.index_select(0, col) * val)
        ctx.save_for_backward(row, col, val)
        ctx.weight_shape = weight_t.shape
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor]:
        row, col, val = ctx.saved_tensors
        grad_w = grad.new_zeros(ctx.weight_shape)
        grad_w.index_add_(0, col, grad.index_select(0, row) * val)
        return None, grad_w, grad.sum(0)


def per_call_ms(fn: Callable[[], None], calls: int = 400) -> float:
    """CPU milliseconds per call after a warm-up."""
    for _ in range(20):
        fn()
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1000.0


def layer_times(seed: int = 0) -> dict[str, float]:
    """Forward + weight gradient of the first layer, dense and index-add, and their largest
    difference in output and gradient."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(ROWS, BITS, generator=gen) < DENSITY).float()
    weight = torch.randn(WIDTH, BITS, generator=gen).mul_(BITS**-0.5).requires_grad_()
    weight_t = weight.detach().t().contiguous().requires_grad_()
    bias = torch.zeros(WIDTH, requires_grad=True)
    grad = torch.randn(ROWS, WIDTH, generator=gen)

    def dense() -> None:
        weight.grad = None
        F.linear(x, weight, bias).backward(grad)

    def index_add() -> None:
        weight_t.grad = None
        IndexAddLinear.apply(x, weight_t, bias).backward(grad)

    dense(), index_add()
    assert weight.grad is not None and weight_t.grad is not None
    with torch.no_grad():
        gap = F.linear(x, weight, bias) - IndexAddLinear.apply(x, weight_t, bias)
    gap_out, gap_grad = gap.abs().max(), (weight.grad - weight_t.grad.t()).abs().max()
    with one_torch_thread():
        times = {"dense": per_call_ms(dense), "index-add": per_call_ms(index_add)}
    return times | {"max |output gap|": float(gap_out), "max |gradient gap|": float(gap_grad)}


def step_share(steps: int = 200) -> tuple[float, float]:
    """(ms per molecules gentle step, share of it in the first layer's products) on the
    validation split of bags of 8 with 20 pairs, seed 0 (molecules data installed)."""
    from torch.profiler import ProfilerActivity, profile

    from gentleclip.data.regimes import RegimeData
    from gentleclip.experiments import bench
    from gentleclip.training.config import config_from_dict
    from gentleclip.training.inprocess import InProcessRun

    cell = bench.Cell("molecules", "bags:8", 20, 0, "gentle")
    split = bench.cell_data(bench.load_domain("molecules"), cell, 400, False).val
    config = bench.base_config("molecules", bench.METHODS["gentle"], 50 + steps, 0)
    train = {k: v for k, v in split.items() if not k.startswith("eval")}
    run = InProcessRun(RegimeData.from_arrays(train), config_from_dict(config))
    with one_torch_thread():
        run.advance(50)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            run.advance(50 + steps)
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    first = sum(
        e.self_cpu_time_total
        for e in events
        if e.key in ("aten::mm", "aten::addmm") and str(BITS) in str(e.input_shapes)
    )
    return total / steps / 1000.0, first / total


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true", help="profile a real molecules step too")
    args = p.parse_args(argv)
    times = layer_times()
    ratio = times["dense"] / times["index-add"]
    print("| first layer, 52 x 2,048 -> 512, forward + weight gradient | ms |")
    print("|---|---:|")
    for name, value in times.items():
        print(f"| {name} | {value:.3g} |")
    print(f"\nindex-add is {ratio:.1f}x faster on the layer")
    if args.profile:
        ms, share = step_share()
        saved = share * (1 - 1 / ratio)
        print(
            f"a molecules gentle step: {ms:.1f} ms under the profiler, {share:.0%} of it in the "
            f"first layer's products; index-add would save at most {saved:.0%} of a step "
            f"({1 / (1 - saved):.2f}x faster)"
        )


if __name__ == "__main__":
    main()
