"""Recommendation latency: top-10 for all users as one matrix product + masked top-k,
against a per-user Python loop on the same model in the same process; and fold-in of a
new visitor with 5 ratings. ``--all-models`` also prints every model's protocol metrics.

Run: .venv/bin/python benchmarks/recs_topk.py [--model dlae] [--repeats 20] [--all-models]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.results import Row
from domains import registry
from domains.base import TrainSettings
from domains.recommendations.predict import RecPredictor
from models.control import CancelToken
from models.device import pick_device


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def per_user_loop(predictor: RecPredictor) -> None:
    """The naive way: score one user at a time in Python."""
    weights_or_none = getattr(predictor.scorer, "weights", None)
    dense = predictor.history.to_dense()
    for u in range(dense.shape[0]):
        row = dense[u : u + 1]
        if weights_or_none is not None:
            scores = row @ weights_or_none
        else:
            scores = predictor.scorer.score(row.to_sparse_csr(), torch.tensor([u]))
        scores[row > 0] = float("-inf")
        torch.topk(scores, 10)


TARGET_MS = 20.0


def bench_rows() -> list[Row]:
    device = pick_device()
    domain = registry.get("recommendations")
    data = domain.load_data()
    spec = next(s for s in domain.models() if s.key == "dlae")
    predictor = domain.train(spec, data, TrainSettings(), device=device, progress=lambda p: None,
                             cancel=CancelToken()).predictor
    assert isinstance(predictor, RecPredictor)
    users = torch.arange(len(predictor.user_ids))
    with torch.inference_mode():
        batched = timed(lambda: predictor.score_users(users, k=10), 20)
        loop = timed(lambda: per_user_loop(predictor), 3)
    return [Row(f"recommendations: top-10 for all {len(users)} users (DLAE)", 1e3 * batched, 1e3 * loop, "ms",
                f"<= {TARGET_MS:.0f} ms", 1e3 * batched <= TARGET_MS, lower_is_better=True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="dlae")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--all-models", action="store_true")
    args = parser.parse_args()
    device = pick_device()
    domain = registry.get("recommendations")
    data = domain.load_data()
    spec = next(s for s in domain.models() if s.key == args.model)
    predictor = domain.train(spec, data, TrainSettings(), device=device, progress=lambda p: None,
                             cancel=CancelToken()).predictor
    assert isinstance(predictor, RecPredictor)
    users = torch.arange(len(predictor.user_ids))
    print(f"model {args.model} on {device}, torch threads {torch.get_num_threads()}, "
          f"{len(predictor.user_ids)} users x {predictor.catalog.size} items")

    with torch.inference_mode():
        batched = timed(lambda: predictor.score_users(users, k=10), args.repeats)
        loop = timed(lambda: per_user_loop(predictor), max(3, args.repeats // 5))
    print(f"top-10 for all users, one product : {batched * 1e3:8.1f} ms")
    print(f"top-10 for all users, per-user loop: {loop * 1e3:8.1f} ms   ratio {loop / batched:5.1f}x")

    liked = [predictor.catalog.ids[i] for i in (49, 55, 97, 126, 180)]  # five popular titles
    fold_in = timed(lambda: predictor.recommend_for_items(liked, 10), args.repeats)
    print(f"fold-in of a new user with 5 ratings (with reasons): {fold_in * 1e3:.1f} ms")

    if args.all_models:
        print(f"\n{'model':<12}{'map':>8}{'ndcg@10':>10}{'prec@10':>10}{'rec@10':>9}{'fit s':>8}")
        for model in domain.models():
            t0 = time.perf_counter()
            m = domain.train(model, data, TrainSettings(), device=device, progress=lambda p: None,
                             cancel=CancelToken()).metrics
            print(f"{model.key:<12}{m['map']:8.4f}{m['ndcg@10']:10.4f}{m['precision@10']:10.4f}"
                  f"{m['recall@10']:9.4f}{time.perf_counter() - t0:8.1f}")


if __name__ == "__main__":
    main()
