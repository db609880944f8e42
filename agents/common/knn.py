"""Exact batched k-nearest-neighbour search over item embeddings (torch, or FAISS when installed).

Wolpertinger maps a continuous proto-action to the k closest real items; the search is the only
part of the agent whose cost grows with the catalog, so it is batched and chunked: queries are
compared with blocks of items (``|q|^2 - 2 q.e + |e|^2`` by matrix product) and a running top-k is
kept, bounding memory by ``batch * chunk_size`` however many items there are.
"""

from __future__ import annotations

import abc

import numpy as np
import torch

__all__ = ["NearestNeighbors", "TorchNearestNeighbors", "FaissNearestNeighbors", "make_nearest_neighbors"]


def _as_embedding_matrix(embeddings: np.ndarray | torch.Tensor) -> torch.Tensor:
    matrix = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(
            f"embeddings must be a non-empty (n_items, d) matrix, got shape {tuple(matrix.shape)}"
        )
    if not torch.isfinite(matrix).all():
        raise ValueError("embeddings must be finite (found NaN or inf)")
    return matrix


class NearestNeighbors(abc.ABC):
    """Exact L2 nearest-neighbour search over a fixed ``(n_items, d)`` embedding matrix."""

    def __init__(self, embeddings: np.ndarray | torch.Tensor) -> None:
        self.embeddings = _as_embedding_matrix(embeddings)

    @property
    def n_items(self) -> int:
        """Number of indexed items."""
        return self.embeddings.shape[0]

    def _check_query(self, queries: torch.Tensor, k: int) -> torch.Tensor:
        queries = torch.as_tensor(queries, dtype=torch.float32)
        if queries.ndim != 2 or queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(
                f"queries must have shape (batch, {self.embeddings.shape[1]}), got {tuple(queries.shape)}"
            )
        if not 1 <= k <= self.n_items:
            raise ValueError(f"k must be in [1, {self.n_items}], got {k}")
        return queries

    @abc.abstractmethod
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(squared_distances, indices)``, both ``(batch, k)``, nearest first."""


class TorchNearestNeighbors(NearestNeighbors):
    """Exact search by chunked matrix products and ``torch.topk``.

    Args:
        embeddings: the ``(n_items, d)`` item embeddings.
        chunk_size: items compared per block (bounds memory at ``batch * chunk_size`` floats).
    """

    def __init__(self, embeddings: np.ndarray | torch.Tensor, chunk_size: int = 4096) -> None:
        super().__init__(embeddings)
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        self._sq_norms = (self.embeddings**2).sum(dim=1)

    @torch.no_grad()
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        queries = self._check_query(queries, k)
        # Rank by |e|^2 - 2 q.e (one fused addmm per block); |q|^2 is the same for a whole row.
        partial_d, partial_i = [], []
        for start in range(0, self.n_items, self.chunk_size):
            block = self.embeddings[start : start + self.chunk_size]
            dist = torch.addmm(self._sq_norms[start : start + self.chunk_size], queries, block.T, alpha=-2.0)
            d, i = torch.topk(dist, min(k, block.shape[0]), dim=1, largest=False, sorted=True)
            partial_d.append(d)
            partial_i.append(i + start)
        if len(partial_d) == 1:
            best_d, best_i = partial_d[0], partial_i[0]
        else:
            best_d, order = torch.topk(torch.cat(partial_d, 1), k, dim=1, largest=False, sorted=True)
            best_i = torch.gather(torch.cat(partial_i, 1), 1, order)
        return (best_d + (queries**2).sum(dim=1, keepdim=True)).clamp_min_(0.0), best_i


class FaissNearestNeighbors(NearestNeighbors):
    """Exact search with a FAISS ``IndexFlatL2`` (install with ``pip install 'recframe[faiss]'``)."""

    def __init__(self, embeddings: np.ndarray | torch.Tensor) -> None:
        super().__init__(embeddings)
        try:
            import faiss
        except ImportError as exc:
            raise ImportError(
                "the FAISS k-NN backend needs faiss: install it with pip install 'recframe[faiss]'"
            ) from exc
        self._index = faiss.IndexFlatL2(self.embeddings.shape[1])
        self._index.add(np.ascontiguousarray(self.embeddings.numpy()))

    @torch.no_grad()
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        queries = self._check_query(queries, k)
        d, i = self._index.search(np.ascontiguousarray(queries.numpy()), k)
        return torch.from_numpy(d), torch.from_numpy(i.astype(np.int64))


def make_nearest_neighbors(embeddings: np.ndarray | torch.Tensor, backend: str = "torch") -> NearestNeighbors:
    """Builds the k-NN index for ``backend`` (``"torch"`` or ``"faiss"``)."""
    if backend == "torch":
        return TorchNearestNeighbors(embeddings)
    if backend == "faiss":
        return FaissNearestNeighbors(embeddings)
    raise ValueError(f"knn backend must be 'torch' or 'faiss', got {backend!r}")
