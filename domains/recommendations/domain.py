"""Recommendations: top-k movies for MovieLens users (or your own interactions), with
explanations, similar items, cold start by fold-in and a live replay of ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, DomainData, FieldSpec, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.base_domain import BaseDomain
from domains.charts import styled
from domains.columns import Column
from domains.io import MAX_UPLOAD_BYTES
from domains.labels import Label
from domains.recommendations import data as rec_data
from domains.recommendations.charts import genre_chart, ratings_histogram, rec_charts
from domains.recommendations.evaluate import evaluate as run_evaluation
from domains.recommendations.live import RecMonitor
from domains.recommendations.predict import RecPredictor
from domains.recommendations.train import train as run_training
from models.control import CancelToken, ProgressFn

LABELS = {
    "map": Label("MAP", "decimal"), "ndcg@10": Label("nDCG@10", "decimal"), "val_ndcg@10": Label("Validation nDCG@10"),
    "precision@10": Label("Precision@10", "percent"), "recall@10": Label("Recall@10", "percent"),
    "recall@k": Label("Recall@k", "percent"), "precision@k": Label("Precision@k", "percent"),
    "coverage": Label("Catalogue coverage", "percent"), "novelty": Label("Novelty", "decimal"),
    "popularity_bias": Label("Popularity bias", "decimal", "Mean popularity percentile of recommended items."),
}
MODELS = (
    ModelSpec("dlae", "Denoising linear autoencoder (DLAE, closed form)", "torch",
              notes="Best on MovieLens-100K; EASE's cousin with dropout-shaped regularisation, tuned on validation."),
    ModelSpec("ease", "EASE^R (closed form)", "torch", notes="Item-item ridge regression, lambda tuned on validation."),
    ModelSpec("itemknn", "Item-kNN (cosine)", "torch", notes="Classic neighbourhood model; neighbours tuned."),
    ModelSpec("bpr", "Matrix factorisation (BPR, PyTorch)", "torch", notes="Implicit MF, shared training loop."),
    ModelSpec("two_tower", "Two-tower with side features (PyTorch)", "torch",
              notes="History + age/gender/occupation vs item id + genres + decade."),
    ModelSpec("popularity", "Most popular (baseline)", "torch", notes="Same list for everyone."),
)


DESCRIPTION = "Top-10 movies per user from past ratings: explanations, similar movies, cold start, live fold-in."


class RecommendationsDomain(BaseDomain[RecPredictor], key="recommendations", title="Recommendations",
                            icon=":material/movie:", input_kind="interactions", description=DESCRIPTION):
    sources, menu = rec_data.SOURCES, MODELS
    predictor_type = RecPredictor
    labels = LABELS
    summary_metrics = ("ndcg@10",)
    # supports_cv stays False: a fixed protocol split; hyperparameters are tuned on an inner validation split

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        return rec_data.load(source)

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        return rec_data.from_upload(name, payload, max_bytes=MAX_UPLOAD_BYTES)

    def inputs(self, predictor: RecPredictor, data: DomainData) -> list[Column]:
        return [Column("user", "text", "id of a user the model knows, or a new visitor's own id"),
                Column("history", "list", f"ids of {predictor.item_noun} the user liked so far (folded in; optional)",
                       required=False)]

    def outputs(self, predictor: RecPredictor) -> list[Column]:
        return [Column("items", "list", f"ids of the recommended {predictor.item_noun}, best first"),
                Column("titles", "list", "their titles, in the same order"),
                Column("scores", "list", "the model's score of each, in the same order"),
                Column("note", "text", "why a row got no list (e.g. an unknown user); empty otherwise",
                       nullable=True)]

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        return run_training(self.spec(spec.key), rec_data.interactions_of(data), settings, device=device,
                            progress=progress, cancel=cancel)

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        return ("test",)

    def evaluate(self, predictor: RecPredictor, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        return run_evaluation(predictor, rec_data.interactions_of(data), split)

    def charts(self, report: Report) -> dict[str, go.Figure]:
        return rec_charts(report)

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        inter = rec_data.interactions_of(data)
        frame = inter.frame
        per_user = frame.group_by("user").len()["len"]
        per_item = frame.group_by("item").len()["len"].sort(descending=True)
        figures = {"ratings": ratings_histogram(frame["rating"])}
        hist = go.Figure(go.Histogram(x=per_user.to_list(), nbinsx=40))
        hist.update_xaxes(title="ratings per user")
        figures["per_user"] = styled(hist, "Activity: ratings per user", height=280)
        long_tail = go.Figure(go.Scatter(y=per_item.to_list(), mode="lines"))
        long_tail.update_xaxes(title="items, most rated first")
        figures["long_tail"] = styled(long_tail, "Long tail: ratings per item", height=280)
        figures["genres"] = genre_chart(genre_counts(inter, frame))
        return figures

    def input_fields(self, predictor: RecPredictor, data: DomainData) -> list[FieldSpec]:
        return [FieldSpec("user", "category", default=predictor.user_ids[0], choices=tuple(predictor.user_ids))]

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Test-split ratings in timestamp order, each with the user's history at that moment
        (training ratings plus earlier test ratings), so the predictor folds them in."""
        inter = rec_data.interactions_of(data)
        train = inter.part("train").group_by("user").agg(pl.col("item").alias("known"))
        events = inter.part("test").sort("timestamp", "user", "item").select("user", "item", "rating", "timestamp")
        events = events.with_columns(pl.col("item").cum_count().over("user").alias("_n"),
                                     pl.col("item").implode().over("user", mapping_strategy="join").alias("_all"))
        ordered = events.join(train, on="user", how="left").with_columns(pl.col("known").fill_null([]))
        return ordered.with_columns(
            pl.concat_list("known", pl.col("_all").list.head(pl.col("_n") - 1)).alias("history")
        ).drop("known", "_all", "_n")

    def monitor(self, predictor: RecPredictor, data: DomainData) -> RecMonitor:
        return RecMonitor(predictor)

    # ---- the recommender views -----------------------------------------------------------------

    def user_profile(self, data: DomainData, user: str) -> tuple[pl.DataFrame, dict[str, go.Figure]]:
        inter = rec_data.interactions_of(data)
        rows = inter.frame.filter(pl.col("user") == str(user))
        if rows.is_empty():
            raise DataError(f"User '{user}' has no ratings in {data.name}.")
        titles = [inter.catalog.label(i) for i in rows["i"].to_list()]
        history = rows.with_columns(pl.Series("title", titles)).select(
            "item", "title", "rating", pl.from_epoch("timestamp").alias("when"), "train"
        ).sort("rating", "when", descending=True)
        return history, {"ratings": ratings_histogram(rows["rating"]), "genres": genre_chart(genre_counts(inter, rows))}


def genre_counts(inter: rec_data.Interactions, rows: pl.DataFrame) -> pl.DataFrame:
    genres = [g for i in rows["i"].to_list() for g in inter.catalog.genres[i]]
    if not genres:
        return pl.DataFrame({"genre": ["(no genres)"], "count": [0]})
    return pl.Series("genre", genres).value_counts().sort("count", descending=True).head(10)
