"""Retrieval metrics against a brute-force full-matrix reference with Python-loop ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentleclip.errors import InputError
from gentleclip.evaluation import ranks, retrieval_metrics, topk_indices

N = 23
CHUNK_SIZES = [1, 3, 7, N, N + 5]


def _tied_pair(seed: int, n: int = N, d: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 embeddings on a coarse grid (exact dot products) with duplicated rows.

    Values are multiples of 1/4 in [-1, 1], so every dot product is exactly representable
    and ties are exact whatever the summation order. Rows of ``zb`` are duplicated so that
    the true match ties with other gallery items.
    """
    rng = np.random.default_rng(seed)
    za = rng.integers(-4, 5, size=(n, d)) / 4.0
    zb = rng.integers(-4, 5, size=(n, d)) / 4.0
    za[5] = za[2]
    zb[3] = zb[1]
    zb[7] = zb[1]
    zb[10] = zb[9]
    za[11] = zb[11]  # a query identical to its match
    return torch.from_numpy(za), torch.from_numpy(zb)


def _brute_counts(za: np.ndarray, zb: np.ndarray) -> list[tuple[int, int]]:
    """Per query: gallery items more similar than the match, and others as similar (loops)."""
    sim = za @ zb.T
    out = []
    for i in range(sim.shape[0]):
        greater = tied = 0
        for j in range(sim.shape[1]):
            if sim[i, j] > sim[i, i]:
                greater += 1
            elif sim[i, j] == sim[i, i] and j != i:
                tied += 1
        out.append((greater, tied))
    return out


def _brute_ranks(za: np.ndarray, zb: np.ndarray, ties: str = "expected") -> list[float]:
    """1-based ranks: the mean of the tied positions, or the best one (optimistic)."""
    return [1 + g + (t / 2 if ties == "expected" else 0) for g, t in _brute_counts(za, zb)]


def _brute_recall(za: np.ndarray, zb: np.ndarray, k: int, ties: str) -> float:
    """Mean over queries of the chance that the match lands in the first k positions, its
    position drawn uniformly among the tied ones (or the best tied one: optimistic)."""
    total = 0.0
    for g, t in _brute_counts(za, zb):
        positions = range(g + 1, g + t + 2) if ties == "expected" else [g + 1]
        total += sum(p <= k for p in positions) / len(positions)
    return total / len(za)


def _brute_class_p1(za: np.ndarray, zb: np.ndarray, labels: np.ndarray, ties: str) -> float:
    """Share of the query's label among the top items (or the lowest-index top item)."""
    sim = za @ zb.T
    total = 0.0
    for i in range(sim.shape[0]):
        best = max(sim[i])
        top = [j for j in range(sim.shape[1]) if sim[i, j] == best]
        if ties == "optimistic":
            top = top[:1]
        total += sum(labels[j] == labels[i] for j in top) / len(top)
    return total / len(za)


def _brute_metrics(
    za: np.ndarray, zb: np.ndarray, labels: np.ndarray, ties: str = "expected"
) -> dict[str, float]:
    """Reference for every key of ``retrieval_metrics`` with ks=(1, 5, 10)."""
    out: dict[str, float] = {}
    for prefix, q, g in (("a_to_b_", za, zb), ("b_to_a_", zb, za)):
        for k in (1, 5, 10):
            out[f"{prefix}R@{k}"] = _brute_recall(q, g, k, ties)
        r = _brute_ranks(q, g, ties)
        s = sorted(r)
        mid = len(s) // 2
        out[f"{prefix}median_rank"] = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
        out[f"{prefix}mean_rank"] = sum(r) / len(r)
        out[f"{prefix}class_P@1"] = _brute_class_p1(q, g, labels, ties)
    return out


@pytest.mark.parametrize("ties", ["expected", "optimistic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_metrics_match_brute_force_with_ties(seed: int, chunk_size: int, ties: str) -> None:
    za, zb = _tied_pair(seed)
    labels = np.random.default_rng(seed + 100).integers(0, 3, size=N)
    got = retrieval_metrics(za, zb, labels, ties=ties, chunk_size=chunk_size)
    want = _brute_metrics(za.numpy(), zb.numpy(), labels, ties)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
        assert isinstance(got[key], float)


def test_ties_actually_occur_in_fixture() -> None:
    """Guard: the tied fixture must make the two rules differ, in ranks, recall and class
    precision@1, and the optimistic ranks must be the best tied positions."""
    za, zb = _tied_pair(1)
    sim = (za @ zb.T).numpy()
    true = np.diag(sim)[:, None]
    optimistic = 1 + (sim > true).sum(1)
    pessimistic = (sim >= true).sum(1)
    assert (pessimistic > optimistic).any()
    assert ranks(za, zb, ties="optimistic").tolist() == optimistic.tolist()
    assert ranks(za, zb).tolist() == ((optimistic + pessimistic) / 2).tolist()
    labels = np.arange(N) % 3
    expected = retrieval_metrics(za, zb, labels)
    kept = retrieval_metrics(za, zb, labels, ties="optimistic")
    for key in ("a_to_b_R@1", "b_to_a_R@10", "a_to_b_mean_rank", "b_to_a_class_P@1"):
        assert expected[key] != kept[key], key


def test_a_collapsed_map_scores_chance_not_perfect() -> None:
    """Every item on one point: each match ties with all N - 1 others, so its expected rank
    is (N + 1) / 2, R@k = k / N and class precision@1 is the label's share of the gallery.
    The optimistic rule scores such a map as perfect."""
    n = 20
    za = torch.ones(n, 3, dtype=torch.float64)
    zb = torch.ones(n, 3, dtype=torch.float64)
    labels = np.array([0] * 5 + [1] * 15)
    got = retrieval_metrics(za, zb, labels, ks=(1, 5, 10))
    assert got["a_to_b_R@1"] == pytest.approx(1 / n)
    assert got["a_to_b_R@5"] == pytest.approx(5 / n)
    assert got["b_to_a_R@10"] == pytest.approx(10 / n)
    assert got["a_to_b_median_rank"] == got["a_to_b_mean_rank"] == (n + 1) / 2
    assert got["a_to_b_class_P@1"] == pytest.approx((5 * 5 + 15 * 15) / n**2)
    kept = retrieval_metrics(za, zb, labels, ties="optimistic")
    assert kept["a_to_b_R@1"] == 1.0
    assert kept["a_to_b_class_P@1"] == 5 / n  # the lowest index carries label 0


def test_random_tie_breaking_averages_to_the_expected_rule() -> None:
    """Breaking the fixture's ties by a random order of the gallery, averaged over many
    orders, approaches the expected rule's values."""
    za, zb = _tied_pair(2)
    sim = (za @ zb.T).numpy()
    rng = np.random.default_rng(0)
    draws = 4000
    r1 = r5 = 0.0
    for _ in range(draws):
        jitter = rng.random(sim.shape) * 1e-9  # grid values differ by >= 1/16: order only
        jittered = sim + jitter
        rank = 1 + (jittered > np.diag(jittered)[:, None]).sum(1)
        r1 += (rank <= 1).mean()
        r5 += (rank <= 5).mean()
    got = retrieval_metrics(za, zb)
    assert got["a_to_b_R@1"] == pytest.approx(r1 / draws, abs=0.01)
    assert got["a_to_b_R@5"] == pytest.approx(r5 / draws, abs=0.01)


def test_without_ties_both_rules_agree() -> None:
    gen = torch.Generator().manual_seed(14)
    za = torch.nn.functional.normalize(torch.randn(50, 8, generator=gen), dim=1)
    zb = torch.nn.functional.normalize(za + torch.randn(50, 8, generator=gen), dim=1)
    labels = np.arange(50) % 4
    expected = retrieval_metrics(za, zb, labels)
    assert expected == retrieval_metrics(za, zb, labels, ties="optimistic")


def test_even_n_median_averages_middle_ranks() -> None:
    za, zb = _tied_pair(3, n=22)
    got = retrieval_metrics(za, zb)
    r = sorted(_brute_ranks(za.numpy(), zb.numpy()))
    assert got["a_to_b_median_rank"] == (r[10] + r[11]) / 2


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_ranks_match_brute_force(chunk_size: int) -> None:
    za, zb = _tied_pair(4)
    got = ranks(za, zb, chunk_size=chunk_size)
    assert got.dtype == torch.float64
    assert got.tolist() == _brute_ranks(za.numpy(), zb.numpy())
    kept = ranks(za, zb, ties="optimistic", chunk_size=chunk_size)
    assert kept.tolist() == _brute_ranks(za.numpy(), zb.numpy(), "optimistic")


def test_random_float32_normalised_agree_with_reference() -> None:
    gen = torch.Generator().manual_seed(5)
    za = torch.nn.functional.normalize(torch.randn(60, 16, generator=gen), dim=1)
    zb = torch.nn.functional.normalize(za + 0.8 * torch.randn(60, 16, generator=gen), dim=1)
    results = [retrieval_metrics(za, zb, chunk_size=c) for c in (1, 8, 60, 100)]
    assert all(r == results[0] for r in results)
    want = _brute_ranks(za.double().numpy(), zb.double().numpy())
    assert ranks(za, zb, chunk_size=7).tolist() == want
    assert 0.0 < results[0]["a_to_b_R@1"] < 1.0  # neither trivial nor hopeless


def test_perfect_embeddings() -> None:
    gen = torch.Generator().manual_seed(6)
    za = torch.nn.functional.normalize(
        torch.randn(40, 8, dtype=torch.float64, generator=gen), dim=1
    )
    labels = torch.arange(40) % 4
    got = retrieval_metrics(za, za.clone(), labels, chunk_size=9)
    for prefix in ("a_to_b_", "b_to_a_"):
        assert got[f"{prefix}R@1"] == 1.0
        assert got[f"{prefix}median_rank"] == 1.0
        assert got[f"{prefix}mean_rank"] == 1.0
        assert got[f"{prefix}class_P@1"] == 1.0


def test_reversed_embeddings_rank_last() -> None:
    """With zb = -za every other item beats the true match (similarity -1)."""
    gen = torch.Generator().manual_seed(7)
    n = 30
    za = torch.nn.functional.normalize(torch.randn(n, 8, dtype=torch.float64, generator=gen), dim=1)
    got = retrieval_metrics(za, -za, chunk_size=4)
    assert got["a_to_b_R@1"] == 0.0
    assert got["a_to_b_R@10"] == 0.0
    assert got["a_to_b_median_rank"] == n
    assert got["b_to_a_mean_rank"] == n


def test_shifted_pairing_is_a_derangement() -> None:
    """Matching row i with i+1 (cyclic) for orthonormal rows: one item beats the match
    (similarity 1) and the other 4 tie with it at 0, so its position is uniform on 2..6."""
    za = torch.eye(6, dtype=torch.float64)
    zb = torch.roll(za, shifts=1, dims=0)
    got = retrieval_metrics(za, zb, ks=(1, 2, 6))
    assert got["a_to_b_R@1"] == 0.0
    assert got["a_to_b_R@2"] == pytest.approx(1 / 5)
    assert got["a_to_b_R@6"] == 1.0
    assert got["a_to_b_median_rank"] == 4.0
    kept = retrieval_metrics(za, zb, ks=(1, 2), ties="optimistic")
    assert kept["a_to_b_R@2"] == 1.0  # the optimistic rule counts the ties as behind it
    assert kept["a_to_b_median_rank"] == 2.0


def test_ks_larger_than_n_and_custom_keys() -> None:
    za, zb = _tied_pair(8, n=12)
    got = retrieval_metrics(za, zb, ks=(2, 50))
    assert got["a_to_b_R@50"] == 1.0
    assert got["b_to_a_R@50"] == 1.0
    assert "a_to_b_R@1" not in got
    assert "a_to_b_R@2" in got


def test_default_keys_exact() -> None:
    za, zb = _tied_pair(9)
    keys = {
        f"{d}_{m}"
        for d in ("a_to_b", "b_to_a")
        for m in ("R@1", "R@5", "R@10", "median_rank", "mean_rank")
    }
    assert set(retrieval_metrics(za, zb)) == keys
    labelled = retrieval_metrics(za, zb, labels=["x", "y", "z"] * 7 + ["x", "y"])
    assert set(labelled) == keys | {"a_to_b_class_P@1", "b_to_a_class_P@1"}


def test_string_labels_match_integer_labels() -> None:
    za, zb = _tied_pair(10)
    ints = np.random.default_rng(1).integers(0, 4, size=N)
    strings = np.array(["cat", "dog", "emu", "fox"])[ints]
    a = retrieval_metrics(za, zb, torch.from_numpy(ints))
    b = retrieval_metrics(za, zb, strings)
    assert a == b


@pytest.mark.parametrize("k", [1, 3, N, N + 4])
@pytest.mark.parametrize("chunk_size", [1, 4, N + 1])
def test_topk_indices_match_sorted_reference(k: int, chunk_size: int) -> None:
    za, zb = _tied_pair(11)
    idx, scores = topk_indices(za, zb, k, chunk_size=chunk_size)
    sim = (za @ zb.T).numpy()
    kk = min(k, N)
    assert idx.shape == (N, kk)
    for i in range(N):
        want = sorted(range(N), key=lambda j, i=i: (-sim[i, j], j))[:kk]
        assert idx[i].tolist() == want
        assert scores[i].tolist() == [sim[i, j] for j in want]


def test_topk_ties_go_to_lower_index() -> None:
    query = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    gallery = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 0.0]])
    idx, scores = topk_indices(query, gallery, 3)
    assert idx.tolist() == [[1, 3, 4]]
    assert scores.tolist() == [[1.0, 1.0, 1.0]]
    idx, _ = topk_indices(query, gallery, 4)
    assert idx.tolist() == [[1, 3, 4, 2]]
    idx, scores = topk_indices(query, gallery[2:], 1)
    assert idx.tolist() == [[1]]
    assert scores.tolist() == [[1.0]]


def test_topk_different_gallery_size() -> None:
    gen = torch.Generator().manual_seed(12)
    q = torch.randn(5, 3, dtype=torch.float64, generator=gen)
    g = torch.randn(9, 3, dtype=torch.float64, generator=gen)
    idx, scores = topk_indices(q, g, 2, chunk_size=2)
    full = q @ g.T  # chunked and full matmuls may round differently (BLAS kernel choice)
    torch.testing.assert_close(scores, full.sort(dim=1, descending=True).values[:, :2])
    torch.testing.assert_close(torch.gather(full, 1, idx), scores)


def _ok() -> torch.Tensor:
    return torch.eye(4)


@pytest.mark.parametrize(
    ("za", "zb", "kwargs", "match"),
    [
        (torch.eye(4), torch.eye(5)[:, :4], {}, "same shape"),
        (torch.eye(4), torch.ones(4, 3), {}, "same shape"),
        (torch.empty(0, 4), torch.empty(0, 4), {}, "empty"),
        (torch.ones(4), torch.ones(4), {}, "2-D"),
        (torch.tensor([[float("nan"), 0.0]]), torch.ones(1, 2), {}, "NaN"),
        (torch.ones(1, 2), torch.tensor([[float("inf"), 0.0]]), {}, "NaN or Inf"),
        (torch.eye(4), torch.eye(4), {"labels": [0, 1, 2]}, "labels"),
        (torch.eye(4), torch.eye(4), {"labels": np.zeros((4, 1))}, "labels"),
        (torch.eye(4), torch.eye(4), {"ks": (1, 0)}, "k"),
        (torch.eye(4), torch.eye(4), {"ks": (1.5,)}, "k"),
        (torch.eye(4), torch.eye(4), {"chunk_size": 0}, "chunk_size"),
        (torch.eye(4), torch.eye(4), {"ties": "random"}, "unknown tie rule 'random'"),
        ([[1.0]], [[1.0]], {}, "Tensor"),
    ],
)
def test_retrieval_validation(za: object, zb: object, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        retrieval_metrics(za, zb, **kwargs)  # type: ignore[arg-type]


def test_topk_and_ranks_validation() -> None:
    with pytest.raises(InputError, match="k must be"):
        topk_indices(_ok(), _ok(), 0)
    with pytest.raises(InputError, match="dimensions differ"):
        topk_indices(_ok(), torch.ones(3, 2), 1)
    with pytest.raises(InputError, match="chunk_size"):
        ranks(_ok(), _ok(), chunk_size=-1)
    with pytest.raises(InputError, match="same shape"):
        ranks(_ok(), torch.eye(3))
    with pytest.raises(InputError, match="unknown tie rule"):
        ranks(_ok(), _ok(), ties="pessimistic")


def test_accepts_numpy_and_grad_tensors_and_mixed_dtypes() -> None:
    za, zb = _tied_pair(13)
    want = retrieval_metrics(za, zb)
    assert retrieval_metrics(za.numpy(), zb.numpy()) == want
    assert retrieval_metrics(za.clone().requires_grad_(True), zb) == want
    got32 = retrieval_metrics(za.float(), zb)  # grid values are exact in float32 too
    assert got32 == want
