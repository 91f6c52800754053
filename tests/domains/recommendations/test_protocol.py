"""The evaluation protocol: MS Recommenders' stratified split and metric definitions."""

import numpy as np
import polars as pl
import pytest

from domains.recommendations.data import protocol_split
from domains.recommendations.ranking import beyond_accuracy, ranking_metrics


def test_split_matches_the_benchmark_sizes(movielens) -> None:
    frame = movielens.info["interactions"].frame
    assert frame.height == 100_000 and frame["user"].n_unique() == 943 and frame["item"].n_unique() == 1682
    assert int(frame["train"].sum()) == 74_992  # what python_stratified_split(0.75, seed=42) gives
    per_user = frame.group_by("user").agg(pl.col("train").mean())["train"]
    assert per_user.min() >= 0.70 and per_user.max() <= 0.80  # every user split ~75/25
    again = protocol_split(frame["user"].to_numpy())
    assert np.array_equal(again, frame["train"].to_numpy())  # deterministic


def test_metrics_on_a_hand_computed_fixture() -> None:
    # user 0: relevant {1, 3}; top-3 [1, 2, 3] -> hits at ranks 1 and 3
    # user 1: relevant {0};    top-3 [2, 1, 0] -> hit at rank 3
    relevant = np.array([[0, 1, 0, 1], [1, 0, 0, 0]], dtype=bool)
    top = np.array([[1, 2, 3], [2, 1, 0]])
    m = ranking_metrics(top, relevant, k=3)
    assert m["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m["recall@3"] == pytest.approx((1.0 + 1.0) / 2)
    assert m["map"] == pytest.approx(((1 / 1 + 2 / 3) / 2 + (1 / 3) / 1) / 2)
    dcg0, idcg0 = 1 + 1 / np.log2(4), 1 + 1 / np.log2(3)
    assert m["ndcg@3"] == pytest.approx((dcg0 / idcg0 + (1 / np.log2(4)) / 1) / 2)
    extra = beyond_accuracy(top, np.array([5.0, 1.0, 1.0, 1.0]), n_users_train=5)
    assert extra["coverage"] == 1.0 and extra["popularity_bias"] == pytest.approx((10 / 6) / 2.0)


def test_metrics_agree_with_ms_recommenders() -> None:
    """Dev-only cross-check against the reference implementation when it is installed."""
    pe = pytest.importorskip("recommenders.evaluation.python_evaluation",
                             reason="pip install recommenders to run this cross-check")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    relevant = rng.random((30, 40)) < 0.15
    relevant[:, 0] |= ~relevant.any(axis=1)
    scores = rng.random((30, 40))
    top = np.argsort(-scores, axis=1)[:, :10]
    truth = pd.DataFrame([(u, i, 1.0) for u, i in zip(*np.nonzero(relevant), strict=True)],
                         columns=["userID", "itemID", "rating"])
    pred = pd.DataFrame([(u, i, float(scores[u, i])) for u in range(30) for i in top[u]],
                        columns=["userID", "itemID", "prediction"])
    ours = ranking_metrics(top, relevant, 10)
    assert ours["map"] == pytest.approx(pe.map(truth, pred, k=10), abs=1e-9)
    assert ours["ndcg@10"] == pytest.approx(pe.ndcg_at_k(truth, pred, k=10), abs=1e-9)
    assert ours["precision@10"] == pytest.approx(pe.precision_at_k(truth, pred, k=10), abs=1e-9)
    assert ours["recall@10"] == pytest.approx(pe.recall_at_k(truth, pred, k=10), abs=1e-9)
