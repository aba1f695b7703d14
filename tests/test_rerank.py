"""k-reciprocal re-ranking: harlearn's torch version against the reference code.

The oracle is ``re_ranking`` from the torchreid 0.2.5 sdist on PyPI
(``torchreid/reid/utils/rerank.py``, sdist sha256
bc1055c6fb8444968798708dd13fdad00148e9d7cf3cb18cf52f4b949857fe08), vendored unchanged
in ``tests/_reference_reranking.py``. Sizes are small so the whole file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import _reference_reranking
from _reference_reranking import re_ranking
from harlearn import rerank
from harlearn.rerank import k_reciprocal_rerank

TOL = 1e-4


def squared_euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] squared Euclidean distances, as torchreid feeds the reference."""
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def distances(n_query: int, n_gallery: int, dim: int = 16, seed: int = 0, dtype=np.float32):
    """(q_g, q_q, g_g) from random features."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_query, dim)).astype(dtype)
    g = rng.standard_normal((n_gallery, dim)).astype(dtype)
    return squared_euclidean(q, g), squared_euclidean(q, q), squared_euclidean(g, g)


class _StableSortNumpy:
    """NumPy, except that ``argsort`` is stable: equal distances ordered by index."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, axis=-1):
        return np.argsort(a, axis=axis, kind="stable")


@pytest.fixture
def stable_reference(monkeypatch):
    """The reference with ties in its initial ranking broken by index, as ours are."""
    monkeypatch.setattr(_reference_reranking, "np", _StableSortNumpy())
    return re_ranking


@pytest.mark.parametrize(
    "n_query, n_gallery, k1, k2, lambda_value, chunk_size",
    [
        (30, 50, 20, 6, 0.3, 256),  # the reference's defaults, Q < G
        (50, 30, 20, 6, 0.3, 256),  # Q > G
        (40, 40, 5, 3, 0.5, 7),  # many chunks, odd k1 (round(2.5) == 2, as np.around)
        (25, 60, 3, 1, 0.3, 16),  # k2 == 1: no query expansion
        (20, 35, 8, 4, 0.0, 9),  # Jaccard distance alone
        (1, 30, 10, 2, 0.3, 4),  # a single query
        (30, 1, 10, 2, 0.3, 4),  # a single gallery image
    ],
)
def test_matches_reference(n_query, n_gallery, k1, k2, lambda_value, chunk_size):
    args = distances(n_query, n_gallery, seed=n_query * 100 + n_gallery)
    expected = re_ranking(*args, k1=k1, k2=k2, lambda_value=lambda_value)
    got = k_reciprocal_rerank(*args, k1=k1, k2=k2, lambda_value=lambda_value, chunk_size=chunk_size)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.shape == expected.shape == (n_query, n_gallery)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def test_neighbour_lists_longer_than_the_set_are_cut_as_in_reference():
    # N = 12 images: k1 + 1 = 31, round(k1 / 2) + 1 = 16 and k2 = 50 all exceed N.
    args = distances(5, 7, dim=3, seed=1)
    expected = re_ranking(*args, k1=30, k2=50, lambda_value=0.2)
    got = k_reciprocal_rerank(*args, k1=30, k2=50, lambda_value=0.2, chunk_size=5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def test_paper_large_neighbourhood_setting_k1_200_k2_20():
    args = distances(60, 240, dim=32, seed=2)
    expected = re_ranking(*args, k1=200, k2=20, lambda_value=0.3)
    got = k_reciprocal_rerank(*args, k1=200, k2=20, lambda_value=0.3, chunk_size=64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def test_float64_inputs_are_squared_before_the_float32_cast_as_in_reference():
    args = distances(20, 30, seed=3, dtype=np.float64)
    np.testing.assert_allclose(k_reciprocal_rerank(*args), re_ranking(*args), rtol=0, atol=TOL)


def test_tied_distances_match_reference_with_a_stable_sort(stable_reference):
    # Integer features on a small grid: nearly every distance is tied with others, and
    # ties straddle the k1 + 1, k1 / 2 + 1 and k2 cut-offs.
    rng = np.random.default_rng(4)
    q = rng.integers(0, 3, size=(40, 3)).astype(np.float32)
    g = rng.integers(0, 3, size=(70, 3)).astype(np.float32)
    args = squared_euclidean(q, g), squared_euclidean(q, q), squared_euclidean(g, g)
    for k1, k2 in [(6, 3), (20, 6), (9, 4)]:
        expected = stable_reference(*args, k1=k1, k2=k2)
        got = k_reciprocal_rerank(*args, k1=k1, k2=k2, chunk_size=16)
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL, err_msg=f"k1={k1}, k2={k2}")


def test_query_equal_to_gallery_matches_reference_with_a_stable_sort(stable_reference):
    # Query = gallery (as when Stanford40's test set is searched against itself): every
    # image has a twin at distance 0, and every other distance comes in tied pairs.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((45, 8)).astype(np.float32)
    d = squared_euclidean(x, x)
    expected = stable_reference(d, d, d)
    np.testing.assert_allclose(k_reciprocal_rerank(d, d, d), expected, rtol=0, atol=TOL)


def test_lambda_one_returns_the_normalised_squared_distance():
    q_g, q_q, g_g = distances(6, 9, seed=6)
    full = np.block([[q_q, q_g], [q_g.T, g_g]]) ** 2  # [N, N]
    expected = (full / full.max(axis=0)).T[:6, 6:]  # each image's distances over its largest
    got = k_reciprocal_rerank(q_g, q_q, g_g, lambda_value=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)


def test_chunking_does_not_change_the_result(monkeypatch):
    args = distances(33, 47, seed=7)
    whole = k_reciprocal_rerank(*args, chunk_size=1000)
    for chunk_size in (1, 5, 32):
        got = k_reciprocal_rerank(*args, chunk_size=chunk_size)
        np.testing.assert_allclose(got, whole, atol=1e-6, err_msg=f"chunk_size={chunk_size}")
    monkeypatch.setattr(rerank, "_MAX_PAIRS", 50)  # split the Jaccard step by pairs as well
    np.testing.assert_allclose(k_reciprocal_rerank(*args), whole, atol=1e-6)


def test_tensor_in_tensor_out_and_numpy_in_numpy_out():
    args = distances(10, 20, seed=8)
    as_numpy = k_reciprocal_rerank(*args)
    as_torch = k_reciprocal_rerank(*(torch.from_numpy(a) for a in args))
    assert isinstance(as_numpy, np.ndarray) and isinstance(as_torch, torch.Tensor)
    assert as_torch.dtype == torch.float32 and as_torch.device.type == "cpu"
    np.testing.assert_allclose(as_torch.numpy(), as_numpy, atol=1e-6)


def test_read_only_and_transposed_numpy_inputs_are_accepted():
    q_g, q_q, g_g = distances(12, 8, seed=9)
    g_q = np.ascontiguousarray(q_g.T)
    g_q.setflags(write=False)
    got = k_reciprocal_rerank(g_q.T, q_q, g_g)  # a read-only, Fortran-ordered view
    np.testing.assert_allclose(got, re_ranking(q_g, q_q, g_g), rtol=0, atol=TOL)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_reference():
    args = distances(40, 70, seed=10)
    got = k_reciprocal_rerank(*(torch.from_numpy(a).cuda() for a in args), chunk_size=16)
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.cpu().numpy(), re_ranking(*args), rtol=0, atol=TOL)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"q_q_dist": np.zeros((4, 4))}, r"q_q_dist must have shape \[Q, Q\] = \(3, 3\), got \(4, 4\)\."),
        ({"g_g_dist": np.zeros((5, 4))}, r"g_g_dist must have shape \[G, G\] = \(5, 5\), got"),
        ({"q_g_dist": np.zeros(15)}, r"q_g_dist must be a non-empty \[Q, G\] matrix"),
        ({"k1": 0}, r"k1 and k2 must be at least 1"),
        ({"k2": 0}, r"k1 and k2 must be at least 1"),
        ({"lambda_value": 1.5}, r"lambda_value must lie in \[0, 1\]"),
        ({"chunk_size": 0}, r"chunk_size must be at least 1"),
    ],
)
def test_wrong_arguments_raise_one_clear_sentence(change, message):
    q_g, q_q, g_g = distances(3, 5, seed=11)
    kwargs = {"q_g_dist": q_g, "q_q_dist": q_q, "g_g_dist": g_g} | change
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(**kwargs)
