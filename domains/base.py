"""The contract every DomainLens domain implements (``Domain``, ``Predictor``) and the
data it passes around. Optional capabilities (explanations, recommendations,
translation, ...) are in ``domains.capabilities``; pages check those with
``isinstance``, never domain names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import plotly.graph_objects as go
import polars as pl
import torch

from domains.columns import Column
from models.checkpoints import Bundle, BundleWriter
from models.control import CancelToken, ProgressFn
from models.errors import DomainLensError as DomainLensError  # the one user-error base, re-exported

InputKind = Literal["tabular", "text", "image", "text_pair", "interactions"]
Family = Literal["hf", "torch", "sklearn", "external"]


class DataError(DomainLensError):
    """Input data that cannot be used as given."""


@dataclass(frozen=True)
class ModelSpec:
    """One entry of a domain's model menu. Specs are data: nothing is built here."""

    key: str
    title: str
    family: Family
    source: str = ""  # hub id, local folder or bundled package; "" for from-scratch models
    revision: str | None = None
    trainable: bool = True
    notes: str = ""
    ready: bool = False  # usable as it is (bundled or pretrained weights), without fitting first


def spec_by_key(specs: Sequence[ModelSpec], key: str, domain: str) -> ModelSpec:
    """The menu entry called ``key``; the error lists what there is to choose from."""
    for spec in specs:
        if spec.key == key:
            return spec
    raise DataError(f"unknown model '{key}' for {domain}; choose one of: {', '.join(s.key for s in specs)}")


@dataclass(frozen=True)
class DataSource:
    """A named dataset a domain can load without any user input."""

    key: str
    title: str
    description: str
    kind: Literal["bundled", "hub", "path"] = "bundled"


@dataclass(frozen=True)
class FieldSpec:
    """One input of a form (single prediction, what-if, evaluation options)."""

    name: str
    kind: Literal["number", "integer", "category", "text", "bool"]
    default: Any = None
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""
    title: str = ""  # shown instead of the name's display name when set
    labels: tuple[str, ...] = ()  # how each of ``choices`` is shown, in the same order


@dataclass
class DomainData:
    """A loaded dataset: the frame plus what the domain needs to know about it."""

    name: str
    frame: pl.DataFrame
    target: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> pl.DataFrame:
        """Rows whose ``split`` column is ``name``; ``all`` is every row. A split with no rows
        raises ``DataError`` listing the splits this data has."""
        if name == "all":
            return self.frame
        rows = self.frame.filter(pl.col("split") == name) if "split" in self.frame.columns else self.frame.clear()
        if rows.is_empty():
            have = ", ".join([*self.info.get("splits", []), "all"])
            raise DataError(f"{self.name} has no '{name}' split; choose one of: {have}")
        return rows


@dataclass
class Report:
    """Evaluation result: lowercase metric names, plus frames the charts are drawn from.

    The domain says what a reader sees first: ``headline`` names the metrics shown as
    tiles (in that order; the rest stay in downloads and the CLI's JSON), and ``tables``
    maps the frames shown as tables to their titles.
    """

    metrics: dict[str, float]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    headline: tuple[str, ...] = ()
    tables: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the numbers mean, in words, shown under the tiles


@dataclass(frozen=True)
class TrainSettings:
    """User-facing training knobs; ``None`` means the domain's default recipe."""

    epochs: int | None = None
    cv: int | None = None
    seed: int = 42
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, shared read-only by every session and thread: configuring one
    (threshold, language pair) returns a copy, never changes it."""

    @property
    def model_key(self) -> str:
        """The menu key of the model this is (``gbm``, ``cnn``, ...)."""
        ...

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        """One output row per input row, in order, vectorised and side-effect free. Rows the
        model cannot score get nulls and a ``note`` where the domain can tell why; a frame
        missing required columns raises ``DataError`` naming them."""
        ...

    def to_bundle(self) -> BundleWriter:
        """Everything needed to rebuild this predictor from a checkpoint."""
        ...


P = TypeVar("P", bound=Predictor)  # a domain's own predictor type


@dataclass
class TrainOutcome:
    """What a training run produced; ``bundle`` is set once it has been saved."""

    predictor: Predictor
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    report: Report | None = None
    info: dict[str, Any] = field(default_factory=dict)
    bundle: Bundle | None = None


@runtime_checkable
class LiveMonitor(Protocol):
    """Accumulates scored stream batches and draws the domain's live charts. Called from
    the stream's thread (``update``) and the page's (the rest): keep updates cheap."""

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        """Take one micro-batch: the events and the predictor's rows for them."""
        ...

    def charts(self) -> dict[str, go.Figure]:
        """Figures of everything seen so far, by name."""
        ...

    def alerts(self) -> list[str]:
        """Sentences worth a warning now (drift, a run of low-confidence outputs); may be empty."""
        ...

    def table(self) -> pl.DataFrame:
        """The latest scored events, newest first, for a table under the charts."""
        ...


@runtime_checkable
class Domain(Protocol[P]):
    """A domain module: its data, model menu, training, evaluation, charts and live stream,
    generic in its own predictor type ``P`` (what ``load`` returns is what its other
    methods receive).

    Pages, the CLI and the HTTP API use only these members and the optional capabilities in
    ``domains.capabilities`` (checked with ``isinstance``), never a domain's own modules;
    a new domain subclasses ``domains.base_domain.BaseDomain`` (the defaults) and is one
    registry entry (``domains.registry.DOMAINS``). Problems the user can fix raise
    ``DataError`` (or another ``DomainLensError``) with a message saying what to do;
    anything else is a bug.
    """

    key: str
    title: str
    icon: str
    description: str
    intended_use: str  # what the models are for, on a model report's card
    input_kind: InputKind
    upload_types: tuple[str, ...]  # file suffixes the sidebar's dataset upload accepts
    supports_cv: bool  # whether ``train`` honours ``TrainSettings.cv`` (k-fold cross-validation)
    evaluate_on_demand: bool  # evaluation is slow (e.g. translating a split): run it on request only
    summary_metrics: tuple[str, ...]  # checkpoint metrics that sum a model up in menus; the first present is shown
    # The checkpoint metric (higher is better) that picks what a page opens with among the
    # checkpoints fitting its data; None: the newest of them.
    default_metric: str | None
    # (checkpoint metric, floor): where set, the page opens on the best checkpoint whose recorded
    # rate reaches the floor (e.g. texts scored per second), so a live feed is never starved.
    default_speed: tuple[str, float] | None
    labels: Mapping[str, Any]  # display names and formats of its own terms (``domains.labels.Label``)

    def datasets(self) -> Sequence[DataSource]:
        """The datasets that need no user input, the default first."""
        ...

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        """Load a bundled dataset by key, or a user file by path (``None``: default), with
        the ``data_options`` values as keywords."""
        ...

    def data_options(self) -> list[FieldSpec]:
        """What ``load_data`` takes besides the source (a target column, a language pair);
        the CLI offers each as a ``--flag`` of this domain."""
        ...

    def upload_fields(self, name: str, payload: bytes, chosen: Mapping[str, Any]) -> list[FieldSpec]:
        """What an uploaded file needs to be read (e.g. its target column), given the values
        ``chosen`` so far: the page shows the first field not yet chosen and asks again, so a
        field's choices may depend on earlier ones. Empty when the file reads as it is."""
        ...

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        """An uploaded file as data; ``options`` are the ``upload_fields`` values. Raises
        ``DataError`` saying what to fix in a file that cannot be used."""
        ...

    def models(self) -> Sequence[ModelSpec]:
        """The model menu, default model first."""
        ...

    def spec(self, key: str) -> ModelSpec:
        """The menu entry called ``key``; ``DataError`` listing the menu for an unknown one
        (``spec_by_key``)."""
        ...

    def load(self, model: ModelSpec | Bundle, device: torch.device) -> P:
        """A checkpoint, or a menu entry that is usable as it is (``needs_fit`` false).
        Menu entries that must be fitted first are opened by ``registry.open_predictor``,
        which fits them once (``first_fit``) and keeps the result."""
        ...

    def needs_fit(self, spec: ModelSpec) -> bool:
        """Whether the menu entry must be fitted on data before it predicts anything."""
        ...

    def first_fit(self, spec: ModelSpec, data: DomainData) -> tuple[TrainSettings, DomainData]:
        """The recipe and data a menu entry is fitted with when it is first used untrained
        (``data`` is the default dataset): a short one where the full recipe takes long."""
        ...

    def configure(self, predictor: P, options: Mapping[str, Any]) -> P:
        """A copy set up by ``data_options`` values (e.g. a translator's language pair, from
        the command line or the data); unchanged where they do not apply."""
        ...

    def inputs(self, predictor: P, data: DomainData) -> list[Column]:
        """The columns ``predictor.predict`` reads (``data``: the reference, for ranges)."""
        ...

    def outputs(self, predictor: P) -> list[Column]:
        """Every column ``predictor.predict`` returns; the contract test checks real outputs
        against it."""
        ...

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        """Fit ``spec`` on ``data`` with ``settings``, reporting to ``progress`` and checking
        ``cancel`` between steps (``CancelledError`` ends the run). Validates on the
        data's own split (or ``settings.cv`` folds where ``supports_cv``); never saves:
        ``domains.training.train_and_save`` writes the checkpoint."""
        ...

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        """The splits ``evaluate`` accepts for this data, the default first."""
        ...

    def evaluate(
        self, predictor: P, data: DomainData, *, split: str = "test", options: Mapping[str, Any] | None = None
    ) -> Report:
        """Metrics and chart frames of ``predictor`` on ``split``; ``options`` are the values of
        ``evaluation_fields`` (``HasEvaluationOptions``). A thresholded predictor decides at
        its own threshold (the copy the faces configured). A split the data lacks raises
        ``DataError``."""
        ...

    def charts(self, report: Report) -> dict[str, go.Figure]:
        """The evaluation's figures, by name, drawn from ``report.frames``."""
        ...

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        """Overview figures of a dataset (no model needed), by name."""
        ...

    def input_fields(self, predictor: P, data: DomainData) -> list[FieldSpec]:
        """The single-prediction form: one field per input column ``predictor`` reads."""
        ...

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Events to replay live, in arrival order (the Live tab paces them)."""
        ...

    def monitor(self, predictor: P, data: DomainData) -> LiveMonitor:
        """A fresh monitor for one live run of ``predictor`` (``data`` is the reference)."""
        ...
