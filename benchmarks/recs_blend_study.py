"""Can a validated blend beat DLAE on the MovieLens-100K protocol? RP3beta (a popularity-
penalised random walk, Paudel et al. 2017) and a user-user EASE are tuned on the validation
split carved out of train (as every recommender here is), each blended with DLAE at the
weight that is best on validation (scores standardised per user), then refitted on all of
train and scored once on the test split.

Run: .venv/bin/python -m benchmarks.recs_blend_study
"""

from __future__ import annotations

import itertools

import torch

from domains.recommendations import algorithms as alg
from domains.recommendations.data import load_movielens
from domains.recommendations.evaluate import relevant_matrix
from domains.recommendations.neural import ndcg_validator
from domains.recommendations.predict import RecPredictor
from domains.recommendations.ranking import ranking_metrics
from domains.recommendations.train import GRIDS, _Split

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)  # DLAE's share of a blend


def rp3beta(history: torch.Tensor, alpha: float, beta: float, neighbours: int) -> torch.Tensor:
    d = history.to_dense().double()
    user_to_item = (d / d.sum(1, keepdim=True).clamp(min=1)) ** alpha
    item_to_user = (d / d.sum(0, keepdim=True).clamp(min=1)).T ** alpha
    w = (item_to_user @ user_to_item) / d.sum(0).clamp(min=1)[None, :] ** beta
    w.fill_diagonal_(0.0)
    kept = torch.topk(w, neighbours, dim=0).values[-1:, :]
    return d @ torch.where(w >= kept, w, torch.zeros_like(w))


def user_ease(history: torch.Tensor, lam: float) -> torch.Tensor:
    d = history.to_dense().double()
    g = d @ d.T
    g.diagonal().add_(lam)
    p = torch.linalg.inv(g)
    b = -p / torch.diagonal(p)[None, :]
    b.fill_diagonal_(0.0)
    return b.T @ d


def dlae(history: torch.Tensor, params: dict[str, float]) -> torch.Tensor:
    return history.to_dense().double() @ alg.fit_dlae(history, params["lambda"], params["dropout"]).weights.double()


def standardised(scores: torch.Tensor) -> torch.Tensor:
    return (scores - scores.mean(1, keepdim=True)) / scores.std(1, keepdim=True).clamp(min=1e-12)


def main() -> None:
    inter = load_movielens()
    split = _Split(inter, torch.device("cpu"))

    def val(scores: torch.Tensor) -> float:
        return ndcg_validator(split.inner, split.valid, lambda h, u, **_: scores.float())(None)["ndcg@10"]

    dlae_params = max(GRIDS["dlae"], key=lambda p: val(dlae(split.inner, p)))
    rp3_params = max(itertools.product((0.4, 0.6, 0.8, 1.0), (0.2, 0.3, 0.4, 0.5), (50, 100, 200)),
                     key=lambda p: val(rp3beta(split.inner, *p)))
    user_lambda = max((200.0, 400.0, 800.0, 1600.0), key=lambda lam: val(user_ease(split.inner, lam)))
    inner_dlae = standardised(dlae(split.inner, dlae_params))
    partners = {"RP3beta": lambda h: rp3beta(h, *rp3_params), "user-user EASE": lambda h: user_ease(h, user_lambda)}
    full_dlae = dlae(split.full, dlae_params)
    probe = RecPredictor("dlae", alg.ItemItemScorer(torch.zeros(1, 1)), inter.catalog, inter.user_ids, split.users,
                         split.items, torch.device("cpu"), {})
    relevant = relevant_matrix(probe, inter.part("test"))

    def test(scores: torch.Tensor) -> dict[str, float]:
        _, top = alg.top_k(scores.float(), split.full, 10)
        return ranking_metrics(top.numpy(), relevant)

    rows = {f"DLAE {dlae_params}": (val(inner_dlae), test(full_dlae))}
    for name, fit in partners.items():
        inner = standardised(fit(split.inner))
        weight = max(WEIGHTS, key=lambda w: val(w * inner_dlae + (1 - w) * inner))
        full = fit(split.full)
        rows[name] = (val(inner), test(full))
        blend = weight * standardised(full_dlae) + (1 - weight) * standardised(full)
        rows[f"DLAE x{weight} + {name}"] = (val(weight * inner_dlae + (1 - weight) * inner), test(blend))
    print(f"RP3beta (alpha, beta, neighbours) {rp3_params}; user-user EASE lambda {user_lambda:g}")
    print(f"{'model':40} {'val nDCG@10':>11} {'MAP':>7} {'nDCG@10':>8} {'P@10':>7} {'R@10':>7}")
    for name, (v, m) in rows.items():
        print(f"{name:40} {v:11.4f} {m['map']:7.4f} {m['ndcg@10']:8.4f} {m['precision@10']:7.4f} "
              f"{m['recall@10']:7.4f}")


if __name__ == "__main__":
    main()
