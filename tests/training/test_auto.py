"""`gentleclip train --auto`: the rule (training.auto.choose), what it puts on a recipe
(training.auto.apply) and the command line around it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from gentleclip.cli.main import main
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.experiments import bench
from gentleclip.recipes import load_recipe
from gentleclip.training import auto
from gentleclip.training.config import TrainConfig

SplitWriter = Callable[..., Path]


def _data(pairs: int, bag_rows: list[int] | None, unpaired: int = 0) -> RegimeData:
    """``pairs`` pairs and unpaired rows in bags of ``bag_rows`` rows each side (or
    ``unpaired`` disjoint rows when ``bag_rows`` is None)."""
    rng = np.random.default_rng(0)
    arrays = {"paired_a": rng.normal(size=(pairs, 3)), "paired_b": rng.normal(size=(pairs, 2))}
    if bag_rows is not None:
        ids = np.repeat(np.arange(len(bag_rows)), bag_rows)
        arrays |= {"unpaired_a_bags": ids, "unpaired_b_bags": ids}
        unpaired = len(ids)
    if unpaired:
        arrays |= {"unpaired_a": rng.normal(size=(unpaired, 3))}
        arrays |= {"unpaired_b": rng.normal(size=(unpaired, 2))}
    return RegimeData.from_arrays(arrays)


@pytest.mark.parametrize(
    ("pairs", "bags", "recipes", "method", "min_rows"),
    [
        (0, [8] * 10, ("bag-nce",), None, 0),
        (20, [8] * 10, ("bag-nce", "pairs-as-items"), None, 0),
        (1, [7, 9, 8, 8], ("bag-nce", "pairs-as-items"), None, 0),
        (0, [32] * 4, ("bag-nce",), None, 0),
        (20, [32] * 4, (), None, 0),
        (0, [128] * 3, ("bag-nce",), None, 0),
        (20, [128, 128, 100], (), None, 128),
        (50, [150, 90], (), None, 150),  # the largest bag, not the median, sets the step
        (10, [8], (), None, 0),  # one bag: the bag term needs two
        (10, [128], (), None, 128),
    ],
)
def test_the_rule_on_bags(
    pairs: int, bags: list[int], recipes: tuple[str, ...], method: str | None, min_rows: int
) -> None:
    choice = auto.choose(_data(pairs, bags))
    assert (choice.recipes, choice.method, choice.min_unpaired_per_step) == (
        recipes,
        method,
        min_rows,
    )
    assert (choice.bags_per_step > 0) == ("bag-nce" in recipes)
    assert choice.line().startswith(f"auto: {len(bags)} bags of about ")
    assert f", {pairs} pair" in choice.line() and choice.evidence in choice.line()


def test_the_rule_without_bags() -> None:
    only_pairs = auto.choose(_data(8, None))
    assert (
        only_pairs.fit
        and only_pairs.folds == 2
        and (only_pairs.recipes, only_pairs.method)
        == (
            (),
            None,
        )
    )
    assert only_pairs.line() == (
        "auto: pairs only, 8 pairs -> a closed-form map, as gentleclip fit --method auto --tune "
        "--folds 2 fits it (benchmark: 9 wins, 7 ties, 4 losses in 20 cells against the recipe)"
    )
    assert auto.choose(_data(200, None)).folds == 5
    with pytest.raises(InputError, match="picked a closed-form map here: fit it"):
        auto.apply(only_pairs, TrainConfig())
    few = auto.choose(_data(7, None))  # too few for 2 folds of 4 pairs
    assert not few.fit and few.line() == (
        "auto: pairs only, 7 pairs -> the recipe as given (benchmark: a closed-form map is "
        "chosen by cross-validation, which needs 8 pairs)"
    )
    disjoint = auto.choose(_data(20, None, unpaired=50))
    assert disjoint.fit and disjoint.folds == 5
    assert disjoint.line() == (
        "auto: disjoint sides, 20 pairs -> a closed-form map, as gentleclip fit --method auto "
        "--tune --folds 5 fits it (benchmark: 15 wins, 5 ties, 0 losses in 20 cells against the "
        "recipe)"
    )
    few_disjoint = auto.choose(_data(7, None, unpaired=50))
    assert not few_disjoint.fit and few_disjoint.overrides == {"sampler": {"use_unpaired": False}}
    assert few_disjoint.line() == (
        "auto: disjoint sides, 7 pairs -> the recipe on the pairs alone (the unpaired rows left "
        "out) (benchmark: a closed-form map is chosen by cross-validation, which needs 8 pairs; "
        "the recipe on the pairs alone: 12 wins, 7 ties, 0 losses in 19 cells against the "
        "recipe)"
    )
    with pytest.raises(InputError, match="disjoint sides and no pairs: nothing ties"):
        auto.choose(_data(0, None, unpaired=50))


def test_apply_puts_the_bench_s_gentle_bagnce_items_on_the_recipe() -> None:
    """bags of 8 with pairs: the loss and sampler fields of the bench's gentle-bagnce-items,
    nothing else changed."""
    config = auto.apply(auto.choose(_data(20, [8] * 10)), TrainConfig())
    expected = TrainConfig()
    for section in ("loss", "sampler"):
        for name, value in bench.METHODS["gentle-bagnce-items"].overrides[section].items():
            setattr(getattr(expected, section), name, value)
    assert config.to_dict() == expected.to_dict()


def test_apply_leaves_disjoint_sides_out_as_the_bench_s_gentle_pairs_alone() -> None:
    """Disjoint sides with too few pairs to fold: the recipe with sampler.use_unpaired false,
    the bench's gentle-pairs-alone, nothing else changed."""
    config = auto.apply(auto.choose(_data(7, None, unpaired=50)), load_recipe("mfeat-gentle"))
    expected = bench.base_config("mfeat", bench.METHODS["gentle-pairs-alone"], None, seed=0)
    expected["trainer"]["progress"] = True
    assert config.to_dict() == expected


def test_a_clip_pick_puts_the_suites_clip_settings_on_the_recipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were clip a class's pick (it was, on disjoint sides, until pairs alone scored better):
    method clip with the settings every suite's CLIP recipe shares (dropout in the mlp encoders
    included), on whatever towers the recipe has."""
    monkeypatch.setitem(auto.PICKS, "disjoint, pairs", auto.CLIP)
    config = auto.apply(auto.choose(_data(20, None, unpaired=50)), TrainConfig())
    assert config.to_dict() == load_recipe("mfeat-clip").to_dict()
    towers = load_recipe("molecules-gentle-wide")  # molecules-clip's towers and steps
    config = auto.apply(auto.choose(_data(20, None, unpaired=50)), towers)
    assert config.to_dict() == load_recipe("molecules-clip").to_dict()


def test_apply_raises_the_step_to_the_largest_bag_only() -> None:
    choice = auto.choose(_data(20, [128, 128, 100]))
    assert auto.apply(choice, TrainConfig()).sampler.unpaired_per_step == 128
    big = TrainConfig()
    big.sampler.unpaired_per_step = 300
    assert auto.apply(choice, big).sampler.unpaired_per_step == 300
    clip = TrainConfig()
    clip.method = "clip"
    with pytest.raises(InputError, match="--auto starts from a gentle recipe, not method clip"):
        auto.apply(choice, clip)


def test_train_cli_auto_writes_the_choice_and_says_why(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bags of 4 with 10 pairs (nearest measured: 8): the config of `--bag-nce
    --pairs-as-items`, and the line naming the regime, the setting and the evidence."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    argv = ["train", str(data), "--steps", "3", "--no-progress"]
    assert main([*argv, "--bag-nce", "--pairs-as-items", "--out", str(tmp_path / "flags")]) == 0
    capsys.readouterr()
    assert main([*argv, "--auto", "--out", str(tmp_path / "auto")]) == 0
    out = capsys.readouterr().out
    assert "bags of about 8 rows, 10 pairs -> --bag-nce --pairs-as-items" in out
    assert auto.EVIDENCE["bags of 8, pairs"] in out
    written = [
        yaml.safe_load((tmp_path / run / "config.yaml").read_text()) for run in ("flags", "auto")
    ]
    assert written[0] == written[1]
    assert main([*argv, "--auto", "--pairs-per-step", "5", "--out", str(tmp_path / "own")]) == 0
    own = yaml.safe_load((tmp_path / "own" / "config.yaml").read_text())
    assert own["sampler"]["pairs_per_step"] == 5  # the user's own flags win


@pytest.mark.parametrize("flag", ["--bag-nce", "--pairs-as-items", "--bag-means"])
def test_train_cli_auto_refuses_the_flags_it_decides(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--auto", flag]) != 0
    assert f"--auto chooses the method and the bag settings itself; drop {flag}" in (
        capsys.readouterr().err
    )
    assert main(["train", str(data), "--out", str(run), "--auto", "--method", "clip"]) != 0
    assert "drop --method" in capsys.readouterr().err
    assert not run.exists()


def test_train_cli_auto_on_disjoint_sides(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Disjoint sides: a closed-form map with 10 pairs (the training flags left unused, and
    said so); with 6 pairs, too few to fold, the recipe on the pairs alone (the user's --steps
    still wins); with no pairs refused before anything is written."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "unpaired"])
    argv = ["train", str(data), "--auto", "--no-progress", "--steps", "4"]
    assert main([*argv, "--out", str(tmp_path / "fit")]) == 0
    out = capsys.readouterr().out
    assert "auto: disjoint sides, 10 pairs -> a closed-form map" in out
    assert "a closed-form map trains nothing: --steps, --no-progress left unused" in out
    assert (tmp_path / "fit" / "fit.json").is_file()
    (tmp_path / "few").mkdir()
    few = write_split(tmp_path / "few", seed=0, split_args=["--regime", "unpaired", "--pairs", "6"])
    run = tmp_path / "run"
    assert (
        main(["train", str(few), "--auto", "--no-progress", "--steps", "4", "--out", str(run)]) == 0
    )
    written = yaml.safe_load((run / "config.yaml").read_text())
    assert (written["method"], written["optim"]["steps"]) == ("gentle", 4)
    assert written["sampler"]["use_unpaired"] is False
    out = capsys.readouterr().out
    assert "auto: disjoint sides, 6 pairs -> the recipe on the pairs alone" in out
    assert "the unpaired rows are left out (the pairs alone)" in out and "regime: pairs" in out
    no_pairs = tmp_path / "no-pairs"
    no_pairs.mkdir()
    for name in ("unpaired_a", "unpaired_b", "eval_a", "eval_b"):
        (no_pairs / f"{name}.npy").write_bytes((data / f"{name}.npy").read_bytes())
    assert main(["train", str(no_pairs), "--out", str(tmp_path / "r0"), "--auto"]) != 0
    assert "disjoint sides and no pairs" in capsys.readouterr().err
    assert not (tmp_path / "r0").exists()


def test_train_cli_auto_on_pairs_only_fits_what_fit_auto_tune_folds_fits(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pairs only (30 pairs): the run gentleclip fit --method auto --tune --folds 5 makes, which
    gentleclip eval takes; a plain train run hints at it; --resume has nothing to resume."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "pairs", "--pairs", "30"])
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--auto"]) == 0
    out = capsys.readouterr().out
    assert "auto: pairs only, 30 pairs -> a closed-form map" in out and "fitted " in out
    assert not (run / "config.yaml").exists()
    fitted = tmp_path / "fitted"
    fit = ["fit", str(data), "--method", "auto", "--tune", "--folds", "5"]
    assert main([*fit, "--out", str(fitted)]) == 0
    record = json.loads((run / "fit.json").read_text())
    assert {k: v for k, v in record.items() if k != "seconds"} == {
        k: v for k, v in json.loads((fitted / "fit.json").read_text()).items() if k != "seconds"
    }
    weights = [(r / "model" / "model.safetensors").read_bytes() for r in (run, fitted)]
    assert weights[0] == weights[1]
    assert main(["eval", str(run), "--data", str(data), "--json", str(tmp_path / "m.json")]) == 0
    capsys.readouterr()
    assert main(["train", str(data), "--out", str(run), "--auto", "--resume"]) != 0
    assert "nothing to resume" in capsys.readouterr().err
    argv = ["train", str(data), "--out", str(tmp_path / "plain"), "--steps", "2", "--no-progress"]
    assert main(argv) == 0
    assert "hint: gentleclip train --auto would fit a closed-form map" in capsys.readouterr().out


def test_train_cli_without_auto_says_what_auto_would_do(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gentle run with the bag settings left alone gets a hint line naming --auto's
    setting; none once the user sets them, and none for clip."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    argv = ["train", str(data), "--steps", "2", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    hint = "hint: gentleclip train --auto would train --bag-nce --pairs-as-items here"
    out = capsys.readouterr().out
    assert hint in out and auto.EVIDENCE["bags of 8, pairs"] in out
    for extra in (["--bag-nce"], ["--unpaired-per-step", "16"], ["--method", "clip"]):
        assert main([*argv, *extra, "--out", str(tmp_path / extra[-1])]) == 0
        assert "hint:" not in capsys.readouterr().out, extra


def test_auto_keeps_the_self_supervised_term_of_molecules_gentle_ssl() -> None:
    """`--auto --config molecules-gentle-ssl` (docs/results.md, "The self-supervised term over
    molecules' default grid"): bags of 32 keep the recipe, term and all; bags of 8 and 128 put
    their pick on top of it and keep the term, as the bench rows of those stacks ran."""
    ssl = load_recipe("molecules-gentle-ssl")
    assert ssl.loss.w_ssl == 0.05
    kept = auto.apply(auto.choose(_data(20, [32, 32, 32])), load_recipe("molecules-gentle-ssl"))
    assert kept.to_dict() == ssl.to_dict()
    for bags in ([8] * 6, [128, 128]):
        picked = auto.apply(auto.choose(_data(20, bags)), load_recipe("molecules-gentle-ssl"))
        assert picked.loss.w_ssl == 0.05 and picked.to_dict() != ssl.to_dict()


@pytest.mark.parametrize(
    ("pairs", "bags", "said", "advice"),
    [
        (0, [8] * 6, ["worse at 0 pairs, 0.548 ± 0.021 against 0.584 ± 0.018"], True),
        (20, [8] * 6, ["the same at 20 pairs"], False),
        (0, [32] * 4, ["better at 0 pairs"], False),
        (0, [128] * 3, ["better at 0 pairs"], False),
        (20, [128] * 3, ["the same at 20 pairs", "better at 50 pairs"], False),
    ],
)
def test_auto_says_what_the_self_supervised_term_did_on_top_of_its_pick(
    pairs: int, bags: list[int], said: list[str], advice: bool
) -> None:
    """A config that keeps the term on (molecules-gentle-ssl) gets one line with the term's
    record on top of the pick, and the way to turn it off where it measured worse."""
    choice = auto.choose(_data(pairs, bags))
    note = auto.ssl_note(choice, 0.05)
    assert note is not None and note.startswith("auto: the self-supervised term (loss.w_ssl 0.05)")
    assert all(part in note for part in said), note
    assert ("set loss.w_ssl: 0" in note) is advice
    assert "measured at 0.05" in (auto.ssl_note(choice, 0.15) or "")
    assert auto.ssl_note(choice, 0.0) is None


def test_auto_says_nothing_of_the_term_where_it_was_not_measured_on_the_pick() -> None:
    """The recipe as given (bags of 32 with pairs, one bag), a closed-form map, and the
    recipe on the pairs alone: no line."""
    cases = {
        "bags of 32, pairs": _data(20, [32] * 4),
        "bags of 8, pairs": _data(10, [8]),
        "disjoint, pairs": _data(20, None, unpaired=40),
        auto.PAIRS_ONLY: _data(20, None),
    }
    for name, data in cases.items():
        choice = auto.choose(data)
        assert choice.data_class == name
        assert auto.ssl_note(choice, 0.05) is None
    assert auto.ssl_note(auto.choose(_data(6, None, unpaired=40)), 0.05) is None


def test_train_cli_auto_with_the_term_on_prints_its_record(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train --auto --config molecules-gentle-ssl` on bags without pairs: the pick's line,
    then the term's record there (worse) and how to turn it off; none with the term off."""
    split = ["--regime", "bags", "--bag-size", "8", "--pairs", "0"]
    data = write_split(tmp_path, seed=0, split_args=split)
    argv = ["train", str(data), "--auto", "--steps", "2", "--no-progress"]
    assert main([*argv, "--config", "molecules-gentle-ssl", "--out", str(tmp_path / "ssl")]) == 0
    out = capsys.readouterr().out
    assert "0 pairs -> --bag-nce" in out
    assert "loss.w_ssl 0.05) on top of this pick" in out and "worse at 0 pairs" in out
    assert "set loss.w_ssl: 0 to train the pick alone" in out
    assert main([*argv, "--config", "molecules-gentle", "--out", str(tmp_path / "plain")]) == 0
    assert "self-supervised" not in capsys.readouterr().out
