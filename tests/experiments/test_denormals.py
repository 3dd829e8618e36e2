"""Flush-to-zero in the bench's cells: the choice, where it is set, and the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.experiments import bench, denormals
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.inprocess import InProcessRun

TINY = torch.finfo(torch.float32).tiny
STEPS = 40


def _cpu_can_flush() -> bool:
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    return supported


pytestmark = pytest.mark.skipif(not _cpu_can_flush(), reason="this CPU has no flush-to-zero")


def test_the_choice_maps_to_a_flag_and_an_unknown_one_is_refused() -> None:
    assert denormals.denormal_flush("flush") is True
    assert denormals.denormal_flush("keep") is False
    with pytest.raises(InputError, match="unknown --denormals 'zero'; expected one of flush, keep"):
        denormals.denormal_flush("zero")


def test_flushed_flushes_inside_and_turns_it_off_after() -> None:
    assert not denormals.flushing()
    with denormals.flushed(True):
        assert denormals.flushing()
    assert not denormals.flushing()
    with denormals.flushed(False):
        assert not denormals.flushing()
    with pytest.raises(RuntimeError), denormals.flushed(True):
        raise RuntimeError("boom")
    assert not denormals.flushing()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("flush", [True, False])
def test_the_cells_run_with_the_choice_and_this_process_is_left_as_it_was(
    workers: int, flush: bool
) -> None:
    """Pool workers set it once, in their initializer, for every task they run; one worker
    means this process, for the grid's length."""
    with bench._executor(workers, None, flush) as executor:
        assert [executor.apply(denormals.flushing) for _ in range(3)] == [flush] * 3
        if workers == 1:
            assert list(executor.imap_unordered(_flushing_job, [0, 1])) == [flush, flush]
    assert not denormals.flushing()


def _flushing_job(_: int) -> bool:
    return denormals.flushing()  # a spawned worker could not import this test module


def _arrays() -> dict[str, np.ndarray]:
    """Random rows whose first 4 columns are scaled to 1e-36: their first-layer weight
    gradients (input times an output gradient below 1) fall below float32's normal range."""
    rng = np.random.default_rng(0)
    bags = np.repeat(np.arange(6), 8)

    def side(n: int, d: int) -> np.ndarray:
        x = rng.standard_normal((n, d), dtype=np.float32)
        x[:, :4] *= np.float32(1e-36)
        return x

    return {
        "paired_a": side(60, 24),
        "paired_b": side(60, 16),
        "unpaired_a": side(48, 24),
        "unpaired_b": side(48, 16),
        "unpaired_a_bags": bags,
        "unpaired_b_bags": bags.copy(),
    }


def _train(flush: bool) -> tuple[dict[str, torch.Tensor], int]:
    """Weights after STEPS steps, and how many denormal weight-gradient entries they saw."""
    config = TrainConfig().to_dict()
    config["trainer"]["progress"] = False
    config["optim"]["steps"] = STEPS
    config["model"]["normalize_inputs"] = False  # standardising would lift the tiny columns
    run = InProcessRun(RegimeData.from_arrays(_arrays()), config_from_dict(config))
    seen = [0]

    def count(grad: torch.Tensor) -> None:
        seen[0] += int(((grad != 0) & (grad.abs() < TINY)).sum())

    run.model.towers["a"].encoder.layers[0].weight.register_hook(count)
    with denormals.flushed(flush):
        run.advance(STEPS)
    return {k: v.clone() for k, v in run.module.state_dict().items()}, seen[0]


def test_a_run_whose_gradients_hold_denormals_ends_with_the_same_weights_when_flushed() -> None:
    kept, denormal_grads = _train(False)
    flushed, flushed_grads = _train(True)
    assert denormal_grads > 1000  # the case is real: many weight gradients were denormal
    assert flushed_grads == 0  # and flushing removed them
    assert kept.keys() == flushed.keys()
    for name, tensor in kept.items():
        assert torch.equal(tensor, flushed[name]), name
