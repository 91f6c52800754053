"""The loaded recommender: top-k for known users, fold-in for new or updated histories,
"because you liked" explanations, similar items and the item embedding map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import torch

from domains.base import DataError
from domains.recommendations.algorithms import (
    ItemItemScorer,
    PopularityScorer,
    Scorer,
    history_matrix,
    row_counts,
    rows_of,
    top_k,
)
from domains.recommendations.data import Catalog
from domains.recommendations.neural import FactorScorer, TwoTowerScorer
from models.checkpoints import Bundle, BundleWriter

DEFAULT_K = 10
NO_HISTORY = "no history yet: most popular items"
UNKNOWN_USER = "unknown user: most popular items (pick movies for a cold start)"


class RecPredictor:
    def __init__(self, model_key: str, scorer: Scorer, catalog: Catalog, user_ids: Sequence[str],
                 train_users: np.ndarray, train_items: np.ndarray, device: torch.device,
                 info: dict[str, Any] | None = None) -> None:
        self._model_key = model_key
        self.scorer = scorer.to(device)
        self.catalog = catalog
        self.user_ids = list(user_ids)
        self.user_index = {u: k for k, u in enumerate(self.user_ids)}
        self.item_index = {item: k for k, item in enumerate(catalog.ids)}
        self.train_users = np.asarray(train_users, dtype=np.int64)
        self.train_items = np.asarray(train_items, dtype=np.int64)
        self.device = device
        self.history = history_matrix(self.train_users, self.train_items, (len(self.user_ids), catalog.size), device)
        self.popularity = torch.as_tensor(np.bincount(self.train_items, minlength=catalog.size), dtype=torch.float32)
        self.info = dict(info or {})

    @property
    def model_key(self) -> str:
        return self._model_key

    # ---- scoring ------------------------------------------------------------------------------

    def score_users(self, users: torch.Tensor, history: torch.Tensor | None = None, *,
                    k: int = DEFAULT_K) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k (scores, item indices) for user indices (-1 = new); with ``history`` the rows
        are folded in from it instead of the training history."""
        fold_in = history is not None
        rows = history if history is not None else rows_of(self.history, users.clamp(min=0))
        with torch.inference_mode():
            scores = self.scorer.score(rows, users, fold_in=fold_in)
            empty = row_counts(rows).to(scores.device) == 0
            if not fold_in:
                empty |= users.to(empty.device) < 0
            if bool(empty.any()):
                popular = self.popularity.to(scores.device).expand(scores.shape[0], -1)
                scores = torch.where(empty[:, None].to(scores.device), popular, scores)
            return top_k(scores, rows, k)

    def predict(self, batch: pl.DataFrame, k: int = DEFAULT_K) -> pl.DataFrame:
        """``user`` column (and optionally ``history``: list of item ids, or one string of ids
        separated by spaces/semicolons) -> top-k item ids, titles and scores per row."""
        if "user" not in batch.columns:
            raise DataError(f"Prediction input needs a 'user' column; found: {', '.join(batch.columns)}.")
        users = [str(u) for u in batch["user"].to_list()]
        index = torch.tensor([self.user_index.get(u, -1) for u in users], dtype=torch.long)
        history = None
        notes = ["" if i >= 0 else UNKNOWN_USER for i in index.tolist()]
        if "history" in batch.columns:
            lists = [_as_ids(h) for h in batch["history"].to_list()]
            known = [[self.item_index[x] for x in h if x in self.item_index] for h in lists]
            dropped = [len(h) - len(kn) for h, kn in zip(lists, known, strict=True)]
            history = self._rows_from_items(known)
            notes = [NO_HISTORY if not kn else (f"{d} unknown item ids ignored" if d else "")
                     for kn, d in zip(known, dropped, strict=True)]
        values, top = self.score_users(index, history, k=k)
        items = [[self.catalog.ids[j] for j in row] for row in top.cpu().tolist()]
        return pl.DataFrame({  # inputs (user, history) are joined back by the caller
            "items": items,
            "titles": [[self.catalog.label(self.item_index[x]) for x in row] for row in items],
            "scores": [[round(float(s), 5) for s in row] for row in values.cpu().tolist()],
            "note": notes,
        }, schema_overrides={"items": pl.List(pl.Utf8), "titles": pl.List(pl.Utf8), "scores": pl.List(pl.Float64)})

    def _rows_from_items(self, item_lists: Sequence[Sequence[int]]) -> torch.Tensor:
        rows = np.repeat(np.arange(len(item_lists)), [len(x) for x in item_lists])
        cols = np.fromiter((i for x in item_lists for i in x), dtype=np.int64, count=len(rows))
        return history_matrix(rows, cols, (len(item_lists), self.catalog.size), self.device)

    # ---- what the recommender pages show -----------------------------------------------------------

    @property
    def item_noun(self) -> str:
        return "movies"

    def users(self) -> list[str]:
        return self.user_ids

    def item_choices(self) -> dict[str, str]:
        order = torch.argsort(self.popularity, descending=True, stable=True).tolist()
        return {self.catalog.ids[i]: self.catalog.label(i) for i in order}

    def known_user(self, user: str) -> bool:
        return str(user) in self.user_index

    def history_of(self, user: str) -> list[int]:
        u = self.user_index.get(str(user))
        return [] if u is None else self.train_items[self.train_users == u].tolist()

    def recommend(self, user: Any, k: int = DEFAULT_K) -> pl.DataFrame:
        """Top-k for a known user, with a "because you liked" reason per item."""
        user = str(user)
        if user not in self.user_index:
            raise DataError(f"Unknown user '{user}'. Pick a user from the list, or use the cold-start picker "
                            "to get recommendations from a few movies.")
        u = self.user_index[user]
        values, top = self.score_users(torch.tensor([u]), k=k)
        return self._explained(self.history_of(user), values[0], top[0])

    def recommend_for_items(self, items: Sequence[str], k: int = DEFAULT_K) -> pl.DataFrame:
        """Cold start: fold in a new visitor from a few liked items, no retraining."""
        unknown = [str(x) for x in items if str(x) not in self.item_index]
        if unknown:
            raise DataError(f"Unknown item ids: {', '.join(unknown[:5])}. Pick items from the catalogue.")
        liked = sorted({self.item_index[str(x)] for x in items})
        values, top = self.score_users(torch.tensor([-1]), self._rows_from_items([liked]), k=k)
        return self._explained(liked, values[0], top[0])

    def _explained(self, liked: list[int], values: torch.Tensor, top: torch.Tensor) -> pl.DataFrame:
        liked_t = torch.as_tensor(liked, dtype=torch.long)
        reasons = []
        for item in top.tolist():
            if not liked:
                reasons.append("popular with everyone")
                continue
            contrib = self.scorer.contributions(liked_t, item)
            best = [liked[j] for j in torch.argsort(contrib, descending=True)[:2].tolist() if contrib[j] > 0]
            reasons.append("because you liked " + " and ".join(self.catalog.label(j) for j in best) if best
                           else "popular with similar users")
        return pl.DataFrame({
            "rank": list(range(1, len(reasons) + 1)),
            "item": [self.catalog.ids[i] for i in top.tolist()],
            "title": [self.catalog.label(i) for i in top.tolist()],
            "genres": [", ".join(self.catalog.genres[i]) for i in top.tolist()],
            "score": [round(float(v), 4) for v in values.tolist()],
            "why": reasons,
        }).select("rank", "title", "why", "genres", "score", "item")  # the reason next to the title

    def similar_items(self, item: str, k: int = DEFAULT_K) -> pl.DataFrame:
        if str(item) not in self.item_index:
            raise DataError(f"Unknown item id '{item}'. Pick an item from the catalogue.")
        i = self.item_index[str(item)]
        vectors = torch.nn.functional.normalize(self.scorer.item_vectors().float().cpu(), dim=1)
        sims = vectors @ vectors[i]
        sims[i] = float("-inf")
        values, top = torch.topk(sims, min(k, len(sims) - 1))
        return pl.DataFrame({"item": [self.catalog.ids[j] for j in top.tolist()],
                             "title": [self.catalog.label(j) for j in top.tolist()],
                             "genres": [", ".join(self.catalog.genres[j]) for j in top.tolist()],
                             "similarity": [round(float(v), 4) for v in values.tolist()]})

    def item_map(self) -> pl.DataFrame:
        """2-D PCA of the item vectors, with titles, first genre and popularity for hover/colour."""
        vectors = self.scorer.item_vectors().float().cpu()
        centred = vectors - vectors.mean(dim=0)
        if centred.shape[1] >= 2:
            _, _, v = torch.linalg.svd(centred, full_matrices=False)
            xy = (centred @ v[:2].T).numpy()
        else:
            xy = np.column_stack([centred[:, 0].numpy(), np.zeros(len(centred))])
        return pl.DataFrame({
            "item": self.catalog.ids, "title": [self.catalog.label(i) for i in range(self.catalog.size)],
            "group": [gs[0] if gs else "unknown" for gs in self.catalog.genres],
            "x": xy[:, 0], "y": xy[:, 1], "ratings": self.popularity.numpy(),
        })

    # ---- checkpoints ----------------------------------------------------------------------------

    def to_bundle(self) -> BundleWriter:
        tensors = {f"scorer.{k}": v.detach().cpu().contiguous() for k, v in self.scorer.tensors().items()}
        tensors["train_users"] = torch.as_tensor(self.train_users, dtype=torch.int32)
        tensors["train_items"] = torch.as_tensor(self.train_items, dtype=torch.int32)
        return BundleWriter(tensors, {"scorer": self.scorer.key, "scorer_params": self.scorer.params(),
                                      "catalog": self.catalog.to_json(), "user_ids": self.user_ids, **self.info})

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> RecPredictor:
        meta, tensors = bundle.metadata, bundle.tensors()
        scorer_tensors = {k.removeprefix("scorer."): v for k, v in tensors.items() if k.startswith("scorer.")}
        kind, params = meta["scorer"], dict(meta.get("scorer_params", {}))
        scorer: Scorer
        if kind == PopularityScorer.key:
            scorer = PopularityScorer(scorer_tensors["counts"])
        elif kind == ItemItemScorer.key:
            scorer = ItemItemScorer(scorer_tensors["weights"], params)
        elif kind == FactorScorer.key:
            scorer = FactorScorer.restore(scorer_tensors, params, device)
        elif kind == TwoTowerScorer.key:
            scorer = TwoTowerScorer.restore(scorer_tensors, params, device)
        else:
            raise DataError(f"This checkpoint uses an unknown recommender type '{kind}'.")
        return cls(bundle.model, scorer, Catalog.from_json(meta["catalog"]), meta["user_ids"],
                   tensors["train_users"].numpy(), tensors["train_items"].numpy(), device,
                   {k: meta[k] for k in ("intended_use", "tuned") if k in meta})


def _as_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [x for x in str(value).replace(";", " ").replace(",", " ").split() if x]
