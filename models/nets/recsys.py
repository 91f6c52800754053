"""Neural recommenders over a users x items history matrix.

Both take the user's history as a (sparse or dense) row of the interaction matrix,
so a new or updated user is scored by the same forward pass (fold-in, no retraining).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

# Sparse CSR matmul is what makes scoring all users one product; its beta notice is noise here.
warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")


def history_pool(history: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Sum of each row's item embeddings over sqrt(count): the L2-normalised history
    (as in Mult-VAE) times the table, so long and short histories land on one scale."""
    summed = history @ table
    counts = (history.to_dense() if history.is_sparse_csr else history).sum(dim=1, keepdim=True)
    return summed / counts.clamp(min=1.0).sqrt()


class BPRMF(nn.Module):
    """Matrix factorisation for implicit feedback trained with the BPR pairwise loss."""

    def __init__(self, n_users: int, n_items: int, dim: int = 64) -> None:
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)

    def pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user(users) * self.item(items)).sum(-1) + self.item_bias(items).squeeze(-1)

    def bpr_loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        diff = self.pair_scores(users, pos) - self.pair_scores(users, neg)
        return -torch.nn.functional.logsigmoid(diff).mean()

    def all_scores(self, user_vectors: torch.Tensor) -> torch.Tensor:
        return user_vectors @ self.item.weight.T + self.item_bias.weight.T


class TwoTower(nn.Module):
    """User tower (mean history embedding + demographic embeddings) and item tower
    (id embedding + genre multi-hot + year band), scored by a dot product and trained
    with a softmax over the whole catalogue."""

    def __init__(self, n_items: int, user_cardinalities: list[int], n_genres: int, n_year_bands: int,
                 dim: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_items, self.dim = n_items, dim
        self.user_cardinalities, self.n_genres, self.n_year_bands = list(user_cardinalities), n_genres, n_year_bands
        self.history_items = nn.Parameter(torch.randn(n_items, dim) * 0.05)
        self.user_fields = nn.ModuleList(nn.Embedding(c, dim) for c in user_cardinalities)
        self.user_mlp = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))
        self.item_ids = nn.Parameter(torch.randn(n_items, dim) * 0.05)
        self.genre = nn.Linear(max(n_genres, 1), dim, bias=False)
        self.year = nn.Embedding(max(n_year_bands, 1), dim)
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.drop = nn.Dropout(dropout)

    def user_vectors(self, history: torch.Tensor, user_codes: torch.Tensor) -> torch.Tensor:
        hist = history_pool(history, self.history_items)
        fields = sum((emb(user_codes[:, j]) for j, emb in enumerate(self.user_fields)), torch.zeros_like(hist))
        return self.user_mlp(self.drop(hist) + fields)

    def item_vectors(self, genres: torch.Tensor, year_bands: torch.Tensor) -> torch.Tensor:
        return self.item_ids + self.genre(genres) + self.year(year_bands)

    def forward(self, history: torch.Tensor, user_codes: torch.Tensor, genres: torch.Tensor,
                year_bands: torch.Tensor) -> torch.Tensor:
        return self.user_vectors(history, user_codes) @ self.item_vectors(genres, year_bands).T + self.item_bias
