"""Evaluation on the protocol's test split: ranking metrics, beyond-accuracy measures,
and the frames behind the charts."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from domains.base import DataError, Report
from domains.recommendations.data import Interactions
from domains.recommendations.predict import RecPredictor
from domains.recommendations.ranking import (
    K,
    beyond_accuracy,
    popularity_profile,
    ranking_metrics,
    recall_curve,
)

# Microsoft Recommenders' published MovieLens-100K table, best row per metric.
PUBLISHED_BEST = {"map": 0.1130, "ndcg@10": 0.4198, "precision@10": 0.3796, "recall@10": 0.1832}
CURVE_K = 50


def relevant_matrix(predictor: RecPredictor, frame: pl.DataFrame) -> np.ndarray:
    """Held-out items per user as a boolean matrix in the predictor's index space."""
    users = frame["user"].replace_strict(predictor.user_index, default=-1, return_dtype=pl.Int64).to_numpy()
    items = frame["item"].replace_strict(predictor.item_index, default=-1, return_dtype=pl.Int64).to_numpy()
    keep = (users >= 0) & (items >= 0)
    relevant = np.zeros((len(predictor.user_ids), predictor.catalog.size), dtype=bool)
    relevant[users[keep], items[keep]] = True
    return relevant


def evaluate(predictor: RecPredictor, inter: Interactions, split: str = "test") -> Report:
    if split != "test":
        raise DataError("Recommenders are evaluated on the held-out test split of the protocol (split 'test').")
    relevant = relevant_matrix(predictor, inter.part("test"))
    if not relevant.any():
        raise DataError("None of this data's test users and items are known to the model; evaluate it on "
                        "the data it was trained on.")
    users = torch.arange(len(predictor.user_ids))
    _, top = predictor.score_users(users, k=CURVE_K)
    top_np = top.cpu().numpy()
    popularity = predictor.popularity.numpy()
    metrics = {**ranking_metrics(top_np, relevant, K),
               **beyond_accuracy(top_np[:, :K], popularity, len(predictor.user_ids))}
    frames = {
        "recall_curve": recall_curve(top_np, relevant),
        "popularity": popularity_profile(top_np[:, :K], popularity),
        "comparison": pl.DataFrame({
            "metric": list(PUBLISHED_BEST) * 2,
            "value": [metrics[m] for m in PUBLISHED_BEST] + list(PUBLISHED_BEST.values()),
            "model": [predictor.model_key] * len(PUBLISHED_BEST) + ["best published (MS Recommenders)"]
            * len(PUBLISHED_BEST),
        }),
    }
    return Report(metrics, frames, info={"split": split, "k": K},
                  headline=("map", f"ndcg@{K}", f"precision@{K}", f"recall@{K}", "coverage", "novelty",
                            "popularity_bias"))
