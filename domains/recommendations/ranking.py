"""Top-k ranking metrics with the definitions of ``recommenders.evaluation.python_evaluation``
(binary relevance, users present in both truth and predictions), plus beyond-accuracy
measures: catalogue coverage, novelty and popularity bias.

All functions take ``top`` (users x k item indices, best first) and a boolean
``relevant`` matrix (users x items) of held-out test items.
"""

from __future__ import annotations

import numpy as np
import polars as pl

K = 10


def hits_matrix(top: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    return np.take_along_axis(relevant, top, axis=1)


def ranking_metrics(top: np.ndarray, relevant: np.ndarray, k: int = K) -> dict[str, float]:
    """``map`` (normalised by the number of relevant items), ``ndcg@k``, ``precision@k``, ``recall@k``."""
    top = top[:, :k]
    n_relevant = relevant.sum(axis=1)
    evaluated = n_relevant > 0
    hits = hits_matrix(top, relevant)[evaluated].astype(np.float64)
    n_rel = n_relevant[evaluated].astype(np.float64)
    ranks = np.arange(1, top.shape[1] + 1)
    precision_at_hit = np.cumsum(hits, axis=1) / ranks
    ap = (precision_at_hit * hits).sum(axis=1) / n_rel
    discounts = 1.0 / np.log2(ranks + 1)
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_rel, top.shape[1]).astype(int) - 1]
    return {
        "map": float(ap.mean()),
        f"ndcg@{k}": float((dcg / ideal).mean()),
        f"precision@{k}": float((hits.sum(axis=1) / k).mean()),
        f"recall@{k}": float((hits.sum(axis=1) / n_rel).mean()),
        "users": float(evaluated.sum()),
    }


def recall_curve(top: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 2, 5, 10, 20, 50)) -> pl.DataFrame:
    n_rel = relevant.sum(axis=1)
    keep = n_rel > 0
    hits = hits_matrix(top, relevant)[keep]
    rows = [{"k": k, "recall": float((hits[:, :k].sum(axis=1) / n_rel[keep]).mean()),
             "precision": float((hits[:, :k].sum(axis=1) / k).mean())} for k in ks if k <= top.shape[1]]
    return pl.DataFrame(rows)


def beyond_accuracy(top: np.ndarray, item_popularity: np.ndarray, n_users_train: int) -> dict[str, float]:
    """Coverage: share of the catalogue recommended to anyone. Novelty: mean self-information
    ``-log2(popularity share)`` of recommended items. Popularity bias: mean training popularity
    of recommended items relative to the catalogue mean (1.0 = no bias)."""
    shown = np.unique(top)
    share = np.clip(item_popularity / max(n_users_train, 1), 1e-12, 1.0)
    rec_pop = item_popularity[top]
    return {
        "coverage": float(len(shown) / len(item_popularity)),
        "novelty": float(-np.log2(share[top]).mean()),
        "popularity_bias": float(rec_pop.mean() / max(item_popularity.mean(), 1e-12)),
    }


def popularity_profile(top: np.ndarray, item_popularity: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Items in popularity deciles: share of the catalogue vs share of recommendations."""
    order = np.argsort(-item_popularity, kind="stable")
    decile = np.empty(len(order), dtype=np.int64)
    decile[order] = np.arange(len(order)) * bins // len(order)
    rec_counts = np.bincount(decile[top.ravel()], minlength=bins)
    return pl.DataFrame({
        "popularity_decile": [f"top {10 * (d + 1)}%" for d in range(bins)],
        "share_of_recommendations": rec_counts / max(rec_counts.sum(), 1),
        "share_of_catalogue": np.bincount(decile, minlength=bins) / len(order),
    })
