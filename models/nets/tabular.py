"""Tabular network: one embedding per categorical column plus an MLP over the
embeddings and the standardised numeric columns. Outputs one logit per row."""

from __future__ import annotations

import torch
from torch import nn


def embedding_dim(cardinality: int) -> int:
    """Small embeddings: tabular categories rarely need more than a handful of dims."""
    return int(min(16, max(2, round(1.6 * cardinality**0.56))))


class TabularNet(nn.Module):
    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        hidden: tuple[int, ...] = (64, 32),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.cardinalities = list(cardinalities)
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dim(c)) for c in cardinalities)
        width = n_numeric + sum(embedding_dim(c) for c in cardinalities)
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def embed(self, categorical: torch.Tensor) -> list[torch.Tensor]:
        """Per-column embeddings; separate so attributions can be taken per column."""
        return [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]

    def forward_embedded(self, numeric: torch.Tensor, embedded: list[torch.Tensor]) -> torch.Tensor:
        return self.mlp(torch.cat([numeric, *embedded], dim=1)).squeeze(1)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(numeric, self.embed(categorical))
