"""Recommendation models behind one scoring contract.

Every scorer maps a batch of user histories (sparse CSR rows of the users x items
matrix) to scores over the whole catalogue, so scoring all users is one matrix
product and a new user is folded in by the same call. Closed-form models are fit
here; the PyTorch ones (BPR, two-tower) in ``neural.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch

import models.nets.recsys  # noqa: F401  (silences the sparse CSR beta notices)


def history_matrix(users: np.ndarray, items: np.ndarray, shape: tuple[int, int],
                   device: torch.device | None = None) -> torch.Tensor:
    """0/1 sparse CSR matrix with a one at each (user, item)."""
    index = torch.as_tensor(np.stack([users, items]), dtype=torch.long)
    values = torch.ones(index.shape[1], dtype=torch.float32)
    coo = torch.sparse_coo_tensor(index, values, shape).coalesce()
    coo = torch.sparse_coo_tensor(coo.indices(), torch.ones_like(coo.values()), shape)  # duplicates stay 0/1
    return coo.to_sparse_csr().to(device or torch.device("cpu"))


def rows_of(matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Select rows of a CSR matrix (torch has no CSR index_select on CPU)."""
    if not matrix.is_sparse_csr:
        return matrix[rows.to(matrix.device)]
    if rows.numel() == matrix.shape[0] and bool((rows.cpu() == torch.arange(matrix.shape[0])).all()):
        return matrix
    crow, col = matrix.crow_indices().cpu(), matrix.col_indices().cpu()
    picked = rows.cpu().long()
    starts, ends = crow[picked], crow[picked + 1]
    lengths = ends - starts
    new_crow = torch.zeros(len(picked) + 1, dtype=torch.long)
    new_crow[1:] = torch.cumsum(lengths, 0)
    offsets = torch.repeat_interleave(starts - new_crow[:-1], lengths)
    new_col = col[torch.arange(int(new_crow[-1])) + offsets]
    values = torch.ones(len(new_col), dtype=matrix.dtype)
    return torch.sparse_csr_tensor(new_crow, new_col, values, (len(picked), matrix.shape[1])).to(matrix.device)


def row_counts(history: torch.Tensor) -> torch.Tensor:
    """Number of items in each history row, without densifying a CSR matrix."""
    if history.is_sparse_csr:
        return history.crow_indices().diff()
    return (history > 0).sum(dim=1)


def top_k(scores: torch.Tensor, seen: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best ``k`` unseen items per row; ``seen`` is the same-shape history (sparse or dense)."""
    if seen.is_sparse_csr:
        rows = torch.repeat_interleave(torch.arange(seen.shape[0], device=scores.device),
                                       row_counts(seen).to(scores.device))
        masked = scores.index_put((rows, seen.col_indices().to(scores.device)),
                                  torch.tensor(float("-inf"), device=scores.device))
    else:
        masked = scores.masked_fill(seen > 0, float("-inf"))
    values, index = torch.topk(masked, min(k, scores.shape[1]), dim=1)
    return values, index


class Scorer(ABC):
    key: ClassVar[str]

    @abstractmethod
    def score(self, history: torch.Tensor, users: torch.Tensor, *, fold_in: bool = False) -> torch.Tensor:
        """Scores ``[rows, items]``; ``users`` holds known user indices or -1 (new users)."""

    @abstractmethod
    def item_vectors(self) -> torch.Tensor:
        """One vector per item, for similar-item lookups and the embedding map."""

    def contributions(self, history_items: torch.Tensor, item: int) -> torch.Tensor:
        """How much each history item pushes ``item`` up (cosine of item vectors by default)."""
        vectors = torch.nn.functional.normalize(self.item_vectors(), dim=1)
        return vectors[history_items] @ vectors[item]

    @abstractmethod
    def tensors(self) -> dict[str, torch.Tensor]: ...

    def params(self) -> dict[str, Any]:
        return {}

    def to(self, device: torch.device) -> Scorer:
        return self


class PopularityScorer(Scorer):
    key = "popularity"

    def __init__(self, counts: torch.Tensor) -> None:
        self.counts = counts.float()

    def score(self, history: torch.Tensor, users: torch.Tensor, *, fold_in: bool = False) -> torch.Tensor:
        return self.counts.to(history.device).expand(history.shape[0], -1).clone()

    def item_vectors(self) -> torch.Tensor:
        return self.counts[:, None]

    def contributions(self, history_items: torch.Tensor, item: int) -> torch.Tensor:
        return torch.zeros(len(history_items))

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"counts": self.counts}

    def to(self, device: torch.device) -> Scorer:
        return PopularityScorer(self.counts.to(device))


class ItemItemScorer(Scorer):
    """``scores = H @ B`` with an item-item weight matrix (cosine kNN, EASE^R, DLAE)."""

    key = "item_item"

    def __init__(self, weights: torch.Tensor, params: dict[str, Any] | None = None) -> None:
        self.weights = weights.float()
        self._params = dict(params or {})

    def score(self, history: torch.Tensor, users: torch.Tensor, *, fold_in: bool = False) -> torch.Tensor:
        return history @ self.weights

    def item_vectors(self) -> torch.Tensor:
        return self.weights

    def contributions(self, history_items: torch.Tensor, item: int) -> torch.Tensor:
        return self.weights[history_items.to(self.weights.device), item].cpu()

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights}

    def params(self) -> dict[str, Any]:
        return self._params

    def to(self, device: torch.device) -> Scorer:
        return ItemItemScorer(self.weights.to(device), self._params)


def gram(history: torch.Tensor) -> torch.Tensor:
    dense = history.to_dense().double()
    return dense.T @ dense


def fit_item_knn(history: torch.Tensor, neighbours: int = 100, shrink: float = 10.0) -> ItemItemScorer:
    """Cosine similarity between item columns, shrunk for rare items, keeping the top neighbours."""
    g = gram(history)
    norms = torch.sqrt(torch.diagonal(g))
    sim = g / (norms[:, None] * norms[None, :] + shrink)
    sim.fill_diagonal_(0.0)
    if neighbours < sim.shape[0]:
        threshold = torch.topk(sim, neighbours, dim=0).values[-1:, :]
        sim = torch.where(sim >= threshold, sim, torch.zeros_like(sim))
    return ItemItemScorer(sim.float(), {"neighbours": neighbours, "shrink": shrink})


def fit_ease(history: torch.Tensor, lam: float, g: torch.Tensor | None = None) -> ItemItemScorer:
    """EASE^R (Steck 2019): ridge item-item regression with a zero diagonal, closed form."""
    g = gram(history) if g is None else g.clone()
    g.diagonal().add_(lam)
    p = torch.linalg.inv(g)
    b = -p / torch.diagonal(p)[None, :]
    b.fill_diagonal_(0.0)
    return ItemItemScorer(b.float(), {"lambda": lam})


def fit_dlae(history: torch.Tensor, lam: float, dropout: float, g: torch.Tensor | None = None) -> ItemItemScorer:
    """Denoising linear autoencoder (Steck 2020): dropout on the input becomes an extra
    per-item L2 penalty ``p/(1-p) * diag(G)``, which stops the model from learning the
    identity without EASE's hard zero-diagonal constraint. ``B = (G + Λ)^-1 G``."""
    g = gram(history) if g is None else g
    penalty = lam + dropout / (1.0 - dropout) * torch.diagonal(g)
    b = torch.linalg.solve(g + torch.diag(penalty), g)
    return ItemItemScorer(b.float(), {"lambda": lam, "dropout": dropout})
