"""Side features for the two-tower model: user demographics and item genres/year, encoded
as small integer codes (0 = unknown, so new users and unseen values still score)."""

from __future__ import annotations

import torch

from domains.recommendations.data import Interactions
from domains.recommendations.neural import SideFeatures

USER_FIELDS = ("age_band", "gender", "occupation")


def side_features(inter: Interactions) -> SideFeatures:
    codes, cardinalities = [], []
    for name in USER_FIELDS:
        if inter.user_features is None or name not in inter.user_features.columns:
            values = ["?"] * inter.n_users
        else:
            values = [str(v) for v in inter.user_features[name].to_list()]
        vocab = {v: k + 1 for k, v in enumerate(sorted(set(values) - {"?"}))}
        codes.append([vocab.get(v, 0) for v in values])
        cardinalities.append(len(vocab) + 1)
    genres = inter.catalog.genre_names()
    genre_index = {g: k for k, g in enumerate(genres)}
    multi_hot = torch.zeros(inter.n_items, max(len(genres), 1))
    for i, gs in enumerate(inter.catalog.genres):
        for g in gs:
            multi_hot[i, genre_index[g]] = 1.0
    decades = [(y // 10) if y else None for y in inter.catalog.years]
    known = sorted({d for d in decades if d is not None})
    band = {d: k + 1 for k, d in enumerate(known)}
    year_bands = torch.tensor([band.get(d, 0) if d is not None else 0 for d in decades], dtype=torch.long)
    return SideFeatures(torch.tensor(codes, dtype=torch.long).T.contiguous(), cardinalities, multi_hot, year_bands,
                        len(known) + 1)
