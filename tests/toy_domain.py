"""A small domain the dashboard has never heard of, built only on the public contract
(``domains.base_domain.BaseDomain``, which supplies every default). The fake-domain tests
register it and open every tab: a new domain needs no dashboard edit, and writes only what
is its own (this file) plus one registry line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, DataSource, DomainData, FieldSpec, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.base_domain import BaseDomain
from domains.columns import Column
from models.checkpoints import Bundle, BundleWriter
from models.control import CancelToken, Progress, ProgressFn

KEY = "toy_quality"
FEATURES = ("temperature", "pressure")


def _frame(rows: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    split = np.where(np.arange(rows) < rows * 0.75, "train", "test")
    return pl.DataFrame({"temperature": x[:, 0], "pressure": x[:, 1], "faulty": y, "split": split})


@dataclass(frozen=True)
class LinearPredictor:
    """p(faulty) = sigmoid(w . x + b), fitted by least squares on the 0/1 target."""

    weights: tuple[float, ...]
    bias: float
    key: str = "linear"

    @property
    def model_key(self) -> str:
        return self.key

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        missing = [f for f in FEATURES if f not in batch.columns]
        if missing:
            raise DataError(f"missing columns: {', '.join(missing)}")
        x = batch.select(FEATURES).to_numpy().astype(float)
        score = 1 / (1 + np.exp(-(x @ np.asarray(self.weights) * 4 + self.bias)))
        return pl.DataFrame({"p_faulty": score, "faulty": (score >= 0.5).astype(int)})

    def to_bundle(self) -> BundleWriter:
        return BundleWriter(tensors={"weights": torch.tensor([*self.weights, self.bias])},
                            metadata={"domain": KEY, "model": self.key})


def fit(frame: pl.DataFrame) -> LinearPredictor:
    x = np.column_stack([frame.select(FEATURES).to_numpy(), np.ones(frame.height)])
    solution, *_ = np.linalg.lstsq(x, frame["faulty"].to_numpy() - 0.5, rcond=None)
    return LinearPredictor(tuple(float(w) for w in solution[:-1]), float(solution[-1]) * 4)


class ToyMonitor:
    def __init__(self) -> None:
        self.scores: list[float] = []

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        self.scores.extend(outputs["p_faulty"].to_list())

    def charts(self) -> dict[str, go.Figure]:
        return {"scores": go.Figure(go.Scatter(y=self.scores, mode="lines"))}

    def alerts(self) -> list[str]:
        return []

    def table(self) -> pl.DataFrame:
        return pl.DataFrame({"p_faulty": self.scores[-20:]}, schema={"p_faulty": pl.Float64})


class ToyDomain(BaseDomain[LinearPredictor], key=KEY, title="Toy quality control",
                icon=":material/factory:", input_kind="tabular",
                description="Predicts faulty parts from two sensor readings (a test domain)."):
    sources = (DataSource("sensors", "Sensor readings (synthetic)", "400 parts, two sensors"),)
    menu = (ModelSpec("linear", "Linear score", "external"),)
    upload_types = ("csv",)
    summary_metrics = ("accuracy",)

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        return DomainData("sensors", _frame(), target="faulty")

    def from_bundle(self, bundle: Bundle, device: torch.device) -> LinearPredictor:
        w = bundle.tensors()["weights"].tolist()
        return LinearPredictor(tuple(w[:-1]), w[-1])

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        predictor = fit(data.frame.filter(pl.col("split") == "train"))
        progress(Progress(1, 1, stage="fit"))
        report = self.evaluate(predictor, data)
        return TrainOutcome(predictor, report.metrics, report=report)

    def outputs(self, predictor: LinearPredictor) -> list[Column]:
        return [Column("p_faulty", "number", "probability that the part is faulty", minimum=0.0, maximum=1.0),
                Column("faulty", "integer", "1 when p_faulty reaches 0.5", choices=(0, 1))]

    def evaluate(self, predictor: LinearPredictor, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        rows = data.frame if split == "all" else data.frame.filter(pl.col("split") == split)
        predicted = predictor.predict(rows)["faulty"].to_numpy()
        accuracy = float((predicted == rows["faulty"].to_numpy()).mean())
        confusion = pl.DataFrame({"actual": rows["faulty"], "predicted": predicted}).group_by(
            "actual", "predicted").len().sort("actual", "predicted")
        return Report({"accuracy": accuracy, "parts": float(rows.height)}, {"confusion": confusion},
                      headline=("accuracy",), tables={"confusion": "Confusion counts"})

    def charts(self, report: Report) -> dict[str, go.Figure]:
        return {"accuracy": go.Figure(go.Bar(x=["accuracy"], y=[report.metrics["accuracy"]]))}

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        return {"sensors": go.Figure(go.Scatter(x=data.frame["temperature"], y=data.frame["pressure"],
                                                mode="markers"))}

    def input_fields(self, predictor: LinearPredictor, data: DomainData) -> list[FieldSpec]:
        return [FieldSpec(f, "number", default=0.0) for f in FEATURES]

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        return data.frame.select(FEATURES).with_row_index("id")

    def monitor(self, predictor: LinearPredictor, data: DomainData) -> ToyMonitor:
        return ToyMonitor()
