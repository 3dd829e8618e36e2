"""The demo's bag-mean rival: ridge on the pairs plus each bag's means, tuned as the bench
tunes it, on the data gentle trains on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gentleclip.data.regimes import load_dataset_dir
from gentleclip.experiments import bench, datasets, demo

# the bench's split arrays and the dataset directory's fields that hold them
KEYS = (
    ("paired_a", "paired_a"),
    ("paired_b", "paired_b"),
    ("unpaired_a", "unpaired_a"),
    ("unpaired_b", "unpaired_b"),
    ("unpaired_a_bags", "bags_a"),
    ("unpaired_b_bags", "bags_b"),
    ("eval_a", "eval_a"),
    ("eval_b", "eval_b"),
    ("eval_labels", "eval_labels"),
)


@pytest.fixture(scope="module")
def mfeat() -> tuple:
    return datasets.build("mfeat"), datasets.entry("mfeat").setting


def test_the_demo_rival_is_the_bench_cell_of_the_same_split(tmp_path: Path, mfeat: tuple) -> None:
    """On the demo's default split (mfeat, bags of 8, 20 pairs, seed 0) the rival chooses the
    penalty the bench chooses for that cell and scores what the bench scores there, and the
    bench's test split is the demo's data directory: the rival is fitted on the pairs and
    bags gentle trains on and scored on the same test pairs."""
    domain, setting = mfeat
    data_dir = demo.prepare_split(domain, setting, tmp_path)
    metrics, params = demo.bag_mean_baseline(domain, setting)
    cell = bench.Cell("mfeat", "bags:8", setting.pairs, setting.seed, demo.BAG_MEAN_BASELINE)
    split = bench.cell_data(domain, cell, setting.test_size, oracle=False).test
    saved = load_dataset_dir(data_dir, require_eval=True)
    for key, attr in KEYS:
        np.testing.assert_array_equal(split[key], getattr(saved, attr), err_msg=key)
    row = bench.run_cell((cell, bench.BenchOptions(out=tmp_path / "bench")))
    assert row["status"] == "ok" and row["params"] == params
    for key, value in row["metrics"].items():
        if key != "train_seconds":
            assert metrics[key] == pytest.approx(value, abs=1e-12), key
    assert row["bag_mean_pairs"] > 100  # 1,580 unpaired items in bags of 8


def test_no_rival_without_bags(mfeat: tuple) -> None:
    domain, setting = mfeat
    assert demo.bag_mean_baseline(domain, replace(setting, regime="unpaired")) is None


def test_render_names_the_rival_when_there_is_one() -> None:
    scores = {"a_to_b_class_P@1": 0.8, "a_to_b_R@10": 0.4}
    result = {
        "setting": {"headline": "a_to_b_class_P@1"},
        "gentle": scores,
        "clip": {**scores, "a_to_b_class_P@1": 0.4},
    }
    assert "ridge" not in demo.render(result) and "(2.00x)" in demo.render(result)
    result[demo.BAG_MEAN_BASELINE] = {**scores, "a_to_b_class_P@1": 0.64}
    text = demo.render(result)
    assert "ridge-bagmeans" in text.splitlines()[0]
    assert text.endswith("vs ridge on the pairs + bag means 0.640 (1.25x)")
