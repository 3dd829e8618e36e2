"""Encoder registry: creation by name, errors, lazy backend import, built-in encoders."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentleclip.errors import InputError
from gentleclip.models.encoders import (
    create_encoder,
    list_encoders,
    register_backend_module,
    register_encoder,
    registry,
)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register names without leaking them into other tests."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_BACKEND_MODULES", dict(registry._BACKEND_MODULES))


def test_builtins_are_listed_sorted() -> None:
    names = list_encoders()
    assert {"identity", "mlp"} <= set(names)
    assert names == sorted(names)


def test_identity_passes_features_through() -> None:
    enc = create_encoder("identity", 5)
    x = torch.randn(3, 5)
    assert enc.output_dim == 5
    assert torch.equal(enc(x), x)


def test_mlp_structure_and_output_dim() -> None:
    enc = create_encoder("mlp", 7, hidden_dims=(16, 3), dropout=0.25)
    assert enc.output_dim == 3
    kinds = [type(m) for m in enc.layers]
    assert kinds == [nn.Linear, nn.GELU, nn.Dropout] * 2
    assert enc.layers[2].p == 0.25
    assert enc(torch.randn(4, 7)).shape == (4, 3)


def test_mlp_matches_manual_computation_in_eval() -> None:
    enc = create_encoder("mlp", 4, hidden_dims=[8, 5], activation="relu").double().eval()
    x = torch.randn(6, 4, dtype=torch.float64)
    l1, l2 = enc.layers[0], enc.layers[3]
    expected = F.relu(F.relu(x @ l1.weight.T + l1.bias) @ l2.weight.T + l2.bias)
    torch.testing.assert_close(enc(x), expected, rtol=1e-12, atol=1e-12)


def test_unknown_name_lists_available() -> None:
    with pytest.raises(InputError, match=r"unknown encoder 'resnet9000'.*identity.*mlp"):
        create_encoder("resnet9000", 4)


def test_unknown_kwarg_is_named() -> None:
    with pytest.raises(InputError, match="hidden_dim"):
        create_encoder("mlp", 4, hidden_dim=[8])
    with pytest.raises(InputError, match="width"):
        create_encoder("identity", 4, width=3)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"hidden_dims": []}, "hidden_dims"),
        ({"hidden_dims": [8, 0]}, "hidden_dims"),
        ({"hidden_dims": "64"}, "hidden_dims"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"activation": "swishy"}, "activation"),
    ],
)
def test_mlp_rejects_bad_values(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        create_encoder("mlp", 4, **kwargs)


@pytest.mark.parametrize("input_dim", [0, -3, 2.5, True])
def test_bad_input_dim(input_dim: object) -> None:
    with pytest.raises(InputError, match="input_dim"):
        create_encoder("mlp", input_dim)  # type: ignore[arg-type]


@pytest.mark.usefixtures("scratch_registry")
def test_missing_required_option_is_named() -> None:
    @register_encoder("needs_width")
    def make(input_dim: int, *, width: int) -> nn.Module:
        module = nn.Linear(input_dim, width)
        module.output_dim = width  # type: ignore[assignment]
        return module

    with pytest.raises(InputError, match=r"missing required option.*width"):
        create_encoder("needs_width", 3)
    assert create_encoder("needs_width", 3, width=2).output_dim == 2


@pytest.mark.usefixtures("scratch_registry")
def test_lazy_backend_is_imported_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = "gentleclip_test_lazy_backend"
    source = """
        from torch import nn
        from gentleclip.models.encoders import register_encoder

        @register_encoder("lazy_double")
        def make(input_dim, *, scale=2.0):
            module = nn.Identity()
            module.output_dim = input_dim
            return module
    """
    (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    register_backend_module("lazy_double", module_name)
    assert "lazy_double" in list_encoders()
    assert module_name not in sys.modules
    enc = create_encoder("lazy_double", 3, scale=1.0)
    assert module_name in sys.modules
    assert enc.output_dim == 3
    monkeypatch.delitem(sys.modules, module_name)


@pytest.mark.usefixtures("scratch_registry")
def test_lazy_backend_missing_dependency_is_input_error() -> None:
    register_backend_module("ghost", "gentleclip_no_such_module_xyz")
    with pytest.raises(InputError, match="optional dependency"):
        create_encoder("ghost", 3)


@pytest.mark.usefixtures("scratch_registry")
def test_registering_a_taken_name_with_another_factory_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_encoder("mlp")
        def other(input_dim: int) -> nn.Module:
            return nn.Identity()
