"""`gentleclip train DIR --out RUN [--method gentle|clip] [--config CFG.yaml] ...`."""

from __future__ import annotations

import argparse

from gentleclip.data.regimes import RegimeData, load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.recipes import BAG_NCE_BAGS_PER_STEP, config_or_recipe
from gentleclip.training import auto
from gentleclip.training.config import METHODS, TrainConfig
from gentleclip.training.finetune import enable_encoder_training
from gentleclip.training.fit import train


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a two-tower model on a dataset directory")
    p.add_argument("data", help="dataset directory (paired_*, unpaired_*, bags, eval_*)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="gentle (default), clip (pairs only) or sclip (pairs + OT pseudo-labels)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="YAML recipe overriding the defaults, or a shipped recipe's name "
        "(molecules-gentle, emoji-finetune-gentle, ...: docs/results.md names each one's use)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="train for N epochs (not steps)")
    p.add_argument("--steps", type=int, default=None, help="train for N optimizer steps")
    p.add_argument("--accelerator", default=None, help="Lightning accelerator (cpu, gpu, ...)")
    p.add_argument("--devices", default=None, help="Lightning devices (1, 2, auto, ...)")
    p.add_argument("--strategy", default=None, help="Lightning strategy (auto, ddp, ...)")
    p.add_argument("--num-nodes", type=int, default=None)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN from its last checkpoint with the same recipe and data (only a "
        "larger --steps/--epochs, --no-progress, --skip-nonfinite and the checkpoint period "
        "may change)",
    )
    p.add_argument(
        "--bag-means",
        action="store_true",
        help="also train on each bag's mean A row and mean B row as a pair (sampler.bag_means; "
        "needs bag files)",
    )
    p.add_argument(
        "--bag-nce",
        action="store_true",
        help="add the bag-level InfoNCE: each bag's mean A embedding against its mean B "
        "embedding (recipe bag-nce: loss.w_bag 1, sampler.unpaired_per_step 128, raised to "
        "twice the largest bag where 128 rows cannot hold 2 bags, as the benchmark ran it; "
        "method gentle, needs bag files)",
    )
    p.add_argument(
        "--pairs-as-items",
        action="store_true",
        help="read the pairs as set members only (recipe pairs-as-items: loss.w_clip 0, "
        "sampler.pairs_per_step 2): with bags of 8 it beat gentle on mfeat, emoji and molecules "
        "and lost on proteins; with bags of 32 it was higher on molecules only, with bags of 128 "
        "or disjoint sides lower; method gentle, needs unpaired rows",
    )
    p.add_argument(
        "--auto",
        action="store_true",
        help="train the setting with the best validation record in the benchmark for the "
        "data's class and print why: --bag-nce with bags and no pairs; with pairs, --bag-nce "
        "--pairs-as-items for bags of about 8, the recipe for 32, whole-bag steps for 128; on "
        "disjoint sides (refused without pairs) and with pairs only, from 8 pairs, no training "
        "but the map gentleclip fit --method auto --tune --folds K chooses (below 8 pairs: the "
        "recipe on the pairs alone on disjoint sides, the recipe with pairs only); starts from "
        "a gentle recipe",
    )
    p.add_argument("--pairs-per-step", type=int, default=None, help="matched pairs in each step")
    p.add_argument(
        "--unpaired-per-step",
        type=int,
        default=None,
        help="unpaired rows of each side in each step (whole bags are packed while they fit; "
        "wins over the recipe's and --bag-nce's value)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--skip-nonfinite", action="store_true", help="skip NaN/Inf loss steps instead of stopping"
    )
    p.add_argument(
        "--train-encoder",
        action="store_true",
        help="fine-tune the pretrained torch encoders of the recipe (efficientnet_lite0, minilm)",
    )
    p.set_defaults(func=run)


# flags --auto decides itself
_AUTO_DECIDES = ("method", "bag_nce", "pairs_as_items", "bag_means")


def apply_overrides(
    args: argparse.Namespace, config_path: str | None, choice: auto.AutoChoice | None = None
) -> TrainConfig:
    """The YAML recipe (or defaults), then ``choice`` (``--auto``), then the other
    command-line flags on top."""
    config = config_or_recipe(config_path)
    if choice is not None:
        auto.apply(choice, config)
    if args.method is not None:
        config.method = args.method
    if args.seed is not None:
        config.seed = args.seed
    if args.epochs is not None:
        config.optim.epochs, config.optim.steps = args.epochs, None
    if args.steps is not None:
        config.optim.steps = args.steps
    for name in ("accelerator", "strategy", "num_nodes"):
        if getattr(args, name) is not None:
            setattr(config.trainer, name, getattr(args, name))
    if args.devices is not None:
        config.trainer.devices = int(args.devices) if args.devices.isdigit() else args.devices
    if args.bag_means:
        config.sampler.bag_means = True
    if args.bag_nce:
        _add_recipe(config, "bag-nce", "--bag-nce")
    if args.pairs_as_items:
        _add_recipe(config, "pairs-as-items", "--pairs-as-items")
    if args.pairs_per_step is not None:
        config.sampler.pairs_per_step = args.pairs_per_step
    if args.unpaired_per_step is not None:
        config.sampler.unpaired_per_step = args.unpaired_per_step
    if args.no_progress:
        config.trainer.progress = False
    if args.skip_nonfinite:
        config.trainer.skip_nonfinite = True
    if args.train_encoder:
        enable_encoder_training(config)
    return config.validate()


def _add_recipe(config: TrainConfig, recipe: str, flag: str) -> None:
    """Recipe ``recipe``'s loss and sampler settings (``auto.put_recipe``), gentle only."""
    if config.method != "gentle":
        raise InputError(f"{flag} is a setting of method gentle, not {config.method}")
    auto.put_recipe(config, recipe)


def auto_choice(args: argparse.Namespace) -> tuple[auto.AutoChoice, RegimeData] | None:
    """``--auto``'s choice and the dataset it was made from (None without ``--auto``), after
    refusing the flags it decides itself."""
    if not getattr(args, "auto", False):
        return None
    given = _decided_by_user(args)
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise InputError(f"--auto chooses the method and the bag settings itself; drop {flags}")
    data = load_dataset_dir(args.data)
    return auto.choose(data), data


def _decided_by_user(args: argparse.Namespace) -> list[str]:
    """The flags of :data:`_AUTO_DECIDES` given on the command line."""
    return [name for name in _AUTO_DECIDES if getattr(args, name) not in (None, False)]


def _hint_wanted(args: argparse.Namespace, config: TrainConfig) -> bool:
    """A new gentle run whose bag settings the user left alone: say what --auto would do."""
    chosen = bool(_decided_by_user(args))
    return config.method == "gentle" and not (args.resume or chosen or args.unpaired_per_step)


def auto_hint(data: RegimeData) -> str | None:
    """One line saying what ``--auto`` would train on ``data`` and its record (None where it
    would keep the recipe or refuse the data)."""
    try:
        choice = auto.choose(data)
    except InputError:
        return None
    if choice.setting == auto.RECIPE:
        return None
    verb = "fit" if choice.fit else "train"
    return (
        f"hint: gentleclip train --auto would {verb} {choice.setting} here ({choice.label}; "
        f"benchmark: {choice.evidence})"
    )


# the flags that set training alone (a closed-form pick leaves them unused)
_TRAINING_FLAGS = (
    "config",
    "seed",
    "epochs",
    "steps",
    "accelerator",
    "devices",
    "strategy",
    "num_nodes",
    "no_progress",
    "skip_nonfinite",
    "train_encoder",
    "pairs_per_step",
    "unpaired_per_step",
)


def fit_closed_form(args: argparse.Namespace, choice: auto.AutoChoice) -> int:
    """``--auto``'s closed-form pick: what ``gentleclip fit DATA --method auto --tune --folds K
    --out RUN`` does (K the choice's folds; the training flags have nothing to set)."""
    from gentleclip.cli import fit

    if args.resume:
        raise InputError("--auto picked a closed-form map here, which has nothing to resume")
    print(choice.line())
    unused = [
        f"--{name.replace('_', '-')}"
        for name in _TRAINING_FLAGS
        if getattr(args, name) not in (None, False)
    ]
    if unused:
        print(f"note: a closed-form map trains nothing: {', '.join(unused)} left unused")
    options = {"method": "auto", "tune": True, "budget": fit.BUDGET, "holdout": None}
    options |= {"param": [], "folds": choice.folds, "bag_means": False}
    return fit.run(argparse.Namespace(data=args.data, out=args.out, **options))


def run(args: argparse.Namespace) -> int:
    """Train as the arguments say; print one line naming the method, steps and run folder."""
    choice, data = auto_choice(args) or (None, None)
    if choice is not None and choice.fit:
        return fit_closed_form(args, choice)
    config = apply_overrides(args, args.config, choice)
    bag_term = args.bag_nce or (choice is not None and choice.bags_per_step > 0)
    # the bag term without a step size of the user's: room for its bags, as the bench gives it
    room = BAG_NCE_BAGS_PER_STEP if bag_term and args.unpaired_per_step is None else 0
    if choice is not None:
        print(choice.line())
        note = auto.ssl_note(choice, config.loss.w_ssl)
        if note:
            print(note)
    elif _hint_wanted(args, config):
        data = load_dataset_dir(args.data)
        hint = auto_hint(data)
        if hint:
            print(hint)
    summary = train(
        args.data, args.out, config, resume=args.resume, bags_per_step=room, loaded=data
    )
    method, steps, seconds = summary["method"], summary["steps"], summary["seconds"]
    print(f"trained {method} for {steps} steps in {seconds} s -> {args.out}")
    return 0
