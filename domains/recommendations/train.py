"""Fit a recommender on the protocol's train split. Hyperparameters are tuned on a
validation split carved out of train the same way (per user, 75/25), then the model
is refit on all of train, so the test split is never looked at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from domains.base import DataError, ModelSpec, TrainOutcome, TrainSettings
from domains.recommendations import algorithms as alg
from domains.recommendations.data import Interactions, protocol_split
from domains.recommendations.evaluate import evaluate
from domains.recommendations.features import side_features
from domains.recommendations.neural import ndcg_validator, train_bpr, train_two_tower
from domains.recommendations.predict import RecPredictor
from models.control import CancelToken, Progress, ProgressFn
from models.training import staged

GRIDS: dict[str, list[dict[str, float]]] = {
    "itemknn": [{"neighbours": n} for n in (50, 100, 200, 400)],
    "ease": [{"lambda": lam} for lam in (50, 100, 200, 400, 800, 1600)],
    "dlae": [{"lambda": lam, "dropout": p} for lam in (100, 200, 300, 400, 600) for p in (0.5, 0.6, 0.67, 0.75, 0.8)],
}
MAX_CLOSED_FORM_ITEMS = 20_000  # an items x items float64 matrix of this size is 3.2 GB
INTENDED_USE = "Demo recommender on past ratings; recommendations reflect popularity and co-rating patterns."


class _Split:
    """Train rows plus an inner train/validation split of them, as matrices."""

    def __init__(self, inter: Interactions, device: torch.device) -> None:
        train = inter.part("train")
        self.users, self.items = train["u"].to_numpy().astype(np.int64), train["i"].to_numpy().astype(np.int64)
        shape = (inter.n_users, inter.n_items)
        inner = protocol_split(self.users, seed=43)
        self.full = alg.history_matrix(self.users, self.items, shape, device)
        self.inner = alg.history_matrix(self.users[inner], self.items[inner], shape, device)
        self.inner_users, self.inner_items = self.users[inner], self.items[inner]
        self.valid = np.zeros(shape, dtype=bool)
        self.valid[self.users[~inner], self.items[~inner]] = True

    def validation_ndcg(self, scorer: alg.Scorer) -> dict[str, float]:
        return ndcg_validator(self.inner, self.valid, scorer.score)(None)


def train(spec: ModelSpec, inter: Interactions, settings: TrainSettings, *, device: torch.device,
          progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
    if spec.key in GRIDS and inter.n_items > MAX_CLOSED_FORM_ITEMS:
        raise DataError(f"{spec.title} keeps an items x items matrix; {inter.n_items:,} items is too many. "
                        "Use the BPR or two-tower model for catalogues this large.")
    split = _Split(inter, device)
    history: list[dict[str, float]] = []
    tuned: dict[str, Any] = {}
    if spec.key == "popularity":
        scorer: alg.Scorer = alg.PopularityScorer(torch.as_tensor(np.bincount(split.items, minlength=inter.n_items)))
    elif spec.key in GRIDS:
        scorer, tuned, history = _grid_search(spec.key, split, progress, cancel)
    elif spec.key == "bpr":
        epochs = settings.epochs or 40
        stage = staged(progress, 2)
        _, found = train_bpr((split.inner_users, split.inner_items), split.inner, split.valid, inter.n_users,
                             inter.n_items, epochs=epochs, device=device, progress=stage(0, "tune epochs"),
                             cancel=cancel, seed=settings.seed)
        history = found.history
        tuned = {"epochs": found.best_epoch}
        scorer, _ = train_bpr((split.users, split.items), split.full, None, inter.n_users, inter.n_items,
                              epochs=found.best_epoch, device=device, progress=stage(1, "refit on train"),
                              cancel=cancel, seed=settings.seed)
    elif spec.key == "two_tower":
        # Trained on the inner split with early stopping; at scoring time it folds in the
        # whole training history, so no refit is needed.
        scorer, found = train_two_tower(split.inner, split.valid, side_features(inter), epochs=settings.epochs or 60,
                                        device=device, progress=progress, cancel=cancel, seed=settings.seed)
        history, tuned = found.history, {"epochs": found.best_epoch}
    else:
        raise DataError(f"Unknown recommender '{spec.key}'.")
    cancel.raise_if_cancelled()
    predictor = RecPredictor(spec.key, scorer, inter.catalog, inter.user_ids, split.users, split.items, device,
                             {"intended_use": INTENDED_USE, "tuned": tuned})
    report = evaluate(predictor, inter)
    return TrainOutcome(predictor, report.metrics, history, report, info={"tuned": tuned})


def _grid_search(key: str, split: _Split, progress: ProgressFn,
                 cancel: CancelToken) -> tuple[alg.Scorer, dict[str, Any], list[dict[str, float]]]:
    fitters: dict[str, Callable[..., alg.ItemItemScorer]] = {
        "itemknn": lambda h, g, p: alg.fit_item_knn(h, int(p["neighbours"])),
        "ease": lambda h, g, p: alg.fit_ease(h, p["lambda"], g),
        "dlae": lambda h, g, p: alg.fit_dlae(h, p["lambda"], p["dropout"], g),
    }
    grid, fitter = GRIDS[key], fitters[key]
    inner_gram = alg.gram(split.inner)
    history: list[dict[str, float]] = []
    for step, params in enumerate(grid, start=1):
        cancel.raise_if_cancelled()
        found = split.validation_ndcg(fitter(split.inner, inner_gram, params))
        history.append({**params, "val_ndcg@10": found["ndcg@10"], "val_precision@10": found["precision@10"]})
        progress(Progress(step, len(grid) + 1, history[-1], stage=f"validate {params}"))
    best = max(history, key=lambda row: row["val_ndcg@10"])
    params = {k: best[k] for k in grid[0]}
    scorer = fitter(split.full, None, params)
    progress(Progress(len(grid) + 1, len(grid) + 1, {"val_ndcg@10": best["val_ndcg@10"]}, stage="refit on train"))
    return scorer, params, history
