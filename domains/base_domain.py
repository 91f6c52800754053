"""``BaseDomain[P]``: the ``Domain`` contract with its defaults, so a new domain writes only
what is specific to it (its data, its predictor, training, evaluation, charts, stream and
monitor) and every method receives its own predictor type ``P``, never a downcast.

What a subclass sets: ``key``, ``title``, ``icon``, ``input_kind`` and ``description`` (as
class keywords), ``sources`` (its datasets), ``menu`` (its models) and, where they apply, ``labels``,
``data_fields``, ``upload_types``, ``summary_metrics``, ``default_metric``, ``supports_cv``,
``evaluate_on_demand`` and ``predictor_type`` (a predictor class whose ``from_bundle``
classmethod opens its checkpoints). What it writes: ``load_data``, ``train``, ``evaluate``,
``charts``, ``explore``, ``stream``, ``monitor`` and ``outputs``; ``read_upload`` when it takes
uploads, ``from_bundle`` when ``predictor_type`` does not open checkpoints, ``build`` for menu
entries that are ready without fitting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic

import numpy as np
import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import (
    DataError,
    DataSource,
    DomainData,
    FieldSpec,
    InputKind,
    LiveMonitor,
    ModelSpec,
    P,
    Report,
    TrainOutcome,
    TrainSettings,
    spec_by_key,
)
from domains.columns import Column, columns_of_fields
from domains.labels import Label, display_name
from models.checkpoints import Bundle
from models.control import CancelToken, ProgressFn

HELD_OUT = ("test", "val")  # the splits a replay and an evaluation prefer, in this order


class BaseDomain(Generic[P]):
    """Defaults for every member of ``domains.base.Domain``; see that protocol for each
    member's contract. A domain names itself in its class line::

        class CreditRiskDomain(BaseDomain[CreditPredictor], key="credit_risk", title="Credit Risk",
                               icon=":material/account_balance:", input_kind="tabular", description="...")
    """

    def __init_subclass__(cls, *, key: str | None = None, title: str | None = None, icon: str | None = None,
                          input_kind: InputKind | None = None, description: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        named = {"key": key, "title": title, "icon": icon, "input_kind": input_kind, "description": description}
        for name, value in named.items():
            if value is not None:
                setattr(cls, name, value)
        missing = [name for name in named if not hasattr(cls, name)]  # a subclass of a domain inherits them
        if missing:
            raise TypeError(f"{cls.__name__} must name its {', '.join(missing)} in its class line")

    key: ClassVar[str]
    title: ClassVar[str]
    icon: ClassVar[str]
    description: ClassVar[str]
    # What a model report's card says the models are for (a domain with stricter limits says so).
    intended_use: ClassVar[str] = ("Exploring how a model behaves on the data shown; check it on your own data "
                                   "before it informs any decision.")
    input_kind: ClassVar[InputKind]
    sources: ClassVar[Sequence[DataSource]] = ()
    menu: ClassVar[Sequence[ModelSpec]] = ()
    labels: ClassVar[Mapping[str, Label]] = {}
    data_fields: ClassVar[Sequence[FieldSpec]] = ()  # ``load_data``'s options (``data_options``)
    upload_types: ClassVar[tuple[str, ...]] = ("csv", "parquet", "jsonl")
    supports_cv: ClassVar[bool] = False
    evaluate_on_demand: ClassVar[bool] = False
    summary_metrics: ClassVar[tuple[str, ...]] = ()
    default_metric: ClassVar[str | None] = None
    default_speed: ClassVar[tuple[str, float] | None] = None
    predictor_type: ClassVar[Any] = None  # its predictor class, when that opens checkpoints (``from_bundle``)

    # ---- data -------------------------------------------------------------------------------

    def datasets(self) -> Sequence[DataSource]:
        return self.sources

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        raise NotImplementedError

    def data_options(self) -> list[FieldSpec]:
        """What ``load_data`` takes besides the source (``data_fields``: e.g. a target column);
        the CLI turns each into a ``--flag``."""
        return list(self.data_fields)

    def upload_fields(self, name: str, payload: bytes, chosen: Mapping[str, Any]) -> list[FieldSpec]:
        return []  # the file's own layout says everything

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        raise DataError(f"{self.title} reads no uploaded datasets")

    # ---- models -----------------------------------------------------------------------------

    def models(self) -> Sequence[ModelSpec]:
        return self.menu

    def spec(self, key: str) -> ModelSpec:
        return spec_by_key(self.menu, key, self.key)

    def load(self, model: ModelSpec | Bundle, device: torch.device) -> P:
        if isinstance(model, Bundle):
            return self.from_bundle(model, device)
        return self.build(model, device)

    def from_bundle(self, bundle: Bundle, device: torch.device) -> P:
        """The predictor saved in ``bundle``: ``predictor_type.from_bundle`` by default."""
        opened: P = self.predictor_type.from_bundle(bundle, device)
        return opened

    def build(self, spec: ModelSpec, device: torch.device) -> P:
        """A menu entry that is usable as it is (``needs_fit`` false)."""
        raise DataError(f"'{spec.key}' has no weights until it is fitted: train it in the Train tab or with "
                        f"`domainlens train {self.key} --model {spec.key}`")

    def needs_fit(self, spec: ModelSpec) -> bool:
        return not spec.ready

    def first_fit(self, spec: ModelSpec, data: DomainData) -> tuple[TrainSettings, DomainData]:
        return TrainSettings(), data

    def configure(self, predictor: P, options: Mapping[str, Any]) -> P:
        return predictor

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        raise NotImplementedError

    # ---- the predictor's columns --------------------------------------------------------------

    def inputs(self, predictor: P, data: DomainData) -> list[Column]:
        fields = self.input_fields(predictor, data)
        return columns_of_fields(fields, {f.name: f.title or display_name(f.name, self.key) for f in fields})

    def outputs(self, predictor: P) -> list[Column]:
        raise NotImplementedError

    def input_fields(self, predictor: P, data: DomainData) -> list[FieldSpec]:
        return []  # inputs are picked (an image, a user), not typed into a form

    # ---- evaluation ---------------------------------------------------------------------------

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        present = data.info.get("splits", [])
        return [s for s in (*HELD_OUT, "train") if s in present] + ["all"]

    def evaluate(self, predictor: P, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        raise NotImplementedError

    def evaluation_predictions(self, predictor: P, rows: pl.DataFrame) -> pl.DataFrame:
        return predictor.predict(rows)

    def charts(self, report: Report) -> dict[str, go.Figure]:
        raise NotImplementedError

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        raise NotImplementedError

    # ---- live ---------------------------------------------------------------------------------

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        raise NotImplementedError

    def monitor(self, predictor: P, data: DomainData) -> LiveMonitor:
        raise NotImplementedError


def held_out_rows(data: DomainData, *, prefer: Sequence[str] = HELD_OUT, seed: int = 7) -> pl.DataFrame:
    """The first of the ``prefer`` splits the data has (else every row) in a shuffled arrival
    order: what a live replay streams."""
    splits = data.info.get("splits", [])
    rows = data.split(next((s for s in prefer if s in splits), "all"))
    return rows[np.random.default_rng(seed).permutation(rows.height).tolist()]
