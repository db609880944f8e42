"""Exact k-NN: matches brute force, chunking is invisible, FAISS is optional and named when missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from recframe.agents.common.knn import FaissNearestNeighbors, TorchNearestNeighbors, make_nearest_neighbors


def _brute_force(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    dist = ((queries[:, None, :].astype(np.float64) - items[None].astype(np.float64)) ** 2).sum(-1)
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("chunk_size", [7, 4096])
def test_torch_knn_matches_brute_force_across_chunks(chunk_size: int) -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(1000, 16)).astype(np.float32)
    queries = rng.normal(size=(32, 16)).astype(np.float32)
    knn = TorchNearestNeighbors(items, chunk_size=chunk_size)
    dist, idx = knn.search(torch.from_numpy(queries), 5)
    np.testing.assert_array_equal(idx.numpy(), _brute_force(items, queries, 5))
    expected = ((queries[:, None, :] - items[idx.numpy()]) ** 2).sum(-1)
    np.testing.assert_allclose(dist.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert (np.diff(dist.numpy(), axis=1) >= 0).all()


def test_one_hot_neighbours_are_the_largest_coordinates() -> None:
    knn = make_nearest_neighbors(np.eye(10))
    proto = torch.tensor([[0.1, 0.9, 0.0, 0.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0]])
    assert knn.search(proto, 3)[1].tolist() == [[1, 3, 7]]


def test_bad_queries_k_and_backend_are_rejected() -> None:
    knn = make_nearest_neighbors(np.eye(4))
    with pytest.raises(ValueError, match="k must be in"):
        knn.search(torch.zeros(1, 4), 5)
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        knn.search(torch.zeros(1, 3), 1)
    with pytest.raises(ValueError, match="backend"):
        make_nearest_neighbors(np.eye(4), backend="annoy")
    with pytest.raises(ValueError, match="finite"):
        make_nearest_neighbors(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="n_items, d"):
        make_nearest_neighbors(np.zeros(5))


def test_missing_faiss_raises_import_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install 'recframe\[faiss\]'"):
        make_nearest_neighbors(np.eye(4), backend="faiss")


def test_faiss_backend_matches_torch() -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    items = rng.normal(size=(500, 8)).astype(np.float32)
    queries = torch.from_numpy(rng.normal(size=(16, 8)).astype(np.float32))
    _, expected = TorchNearestNeighbors(items).search(queries, 4)
    np.testing.assert_array_equal(
        FaissNearestNeighbors(items).search(queries, 4)[1].numpy(), expected.numpy()
    )
