"""Contracts every DomainLens domain implements, and the optional capabilities
pages look for. Pages check capabilities (``isinstance(x, Explainer)``), never
domain names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import plotly.graph_objects as go
import polars as pl
import torch

from models.checkpoints import Bundle, BundleWriter
from models.fastpath import Scoring
from models.training import CancelToken, ProgressFn

InputKind = Literal["tabular", "text", "image", "text_pair", "interactions"]
Family = Literal["hf", "torch", "sklearn", "external"]


class DomainLensError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it.

    The CLI prints it as one line and the dashboard as one ``st.error``; neither
    shows a traceback for it.
    """


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


@dataclass
class DomainData:
    """A loaded dataset: the frame plus what the domain needs to know about it."""

    name: str
    frame: pl.DataFrame
    target: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Evaluation result: lowercase metric names, plus frames the charts are drawn from."""

    metrics: dict[str, float]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainSettings:
    """User-facing training knobs; ``None`` means the domain's default recipe."""

    epochs: int | None = None
    cv: int | None = None
    seed: int = 42
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    """A loaded model. ``predict`` maps a frame to one output row per input row,
    vectorised and side-effect free; predictors are shared between sessions."""

    @property
    def model_key(self) -> str: ...

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame: ...

    def to_bundle(self) -> BundleWriter:
        """Everything needed to rebuild this predictor from a checkpoint."""
        ...


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
    """Accumulates scored stream batches and draws the domain's live charts."""

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None: ...

    def charts(self) -> dict[str, go.Figure]: ...

    def alerts(self) -> list[str]: ...

    def table(self) -> pl.DataFrame: ...


@runtime_checkable
class Domain(Protocol):
    key: str
    title: str
    icon: str
    description: str
    input_kind: InputKind
    upload_types: tuple[str, ...]  # file suffixes the sidebar's dataset upload accepts
    supports_cv: bool  # whether ``train`` honours ``TrainSettings.cv`` (k-fold cross-validation)

    def datasets(self) -> Sequence[DataSource]: ...

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        """Load a bundled dataset by key, or a user file by path (``None``: default)."""
        ...

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData: ...

    def models(self) -> Sequence[ModelSpec]:
        """The model menu, default model first."""
        ...

    def load(self, model: ModelSpec | Bundle, device: torch.device, *, progress: ProgressFn | None = None) -> Predictor:
        """A checkpoint, or a menu entry: ready-made, or fitted on the default data once (saved,
        so later loads are fast) while reporting to ``progress``."""
        ...

    def train(
        self,
        spec: ModelSpec,
        data: DomainData,
        settings: TrainSettings,
        *,
        device: torch.device,
        progress: ProgressFn,
        cancel: CancelToken,
    ) -> TrainOutcome: ...

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        """The splits ``evaluate`` accepts for this data, the default first."""
        ...

    def evaluate(
        self, predictor: Predictor, data: DomainData, *, split: str = "test", options: Mapping[str, Any] | None = None
    ) -> Report: ...

    def charts(self, report: Report) -> dict[str, go.Figure]: ...

    def explore(self, data: DomainData) -> dict[str, go.Figure]: ...

    def input_fields(self, predictor: Predictor, data: DomainData) -> list[FieldSpec]: ...

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Events to replay live, in arrival order (the Live tab paces them)."""
        ...

    def monitor(self, predictor: Predictor, data: DomainData) -> LiveMonitor: ...


# ---- optional capabilities -------------------------------------------------------------------


@dataclass
class Explanation:
    """Additive attributions for one input: ``base + sum(contribution) == value``."""

    frame: pl.DataFrame  # columns: feature, value, contribution
    base_value: float
    output_value: float
    space: str = "log-odds"


@runtime_checkable
class Explainer(Protocol):
    def explain(self, row: pl.DataFrame) -> Explanation: ...

    def global_importance(self, data: pl.DataFrame) -> pl.DataFrame: ...


@runtime_checkable
class Thresholded(Protocol):
    @property
    def threshold(self) -> float: ...

    def with_threshold(self, threshold: float) -> Predictor: ...


@runtime_checkable
class HasEvaluationOptions(Protocol):
    def evaluation_fields(self) -> list[FieldSpec]: ...


@runtime_checkable
class HasStreamOptions(Protocol):
    def stream_fields(self) -> list[FieldSpec]: ...


@runtime_checkable
class TokenStreamer(Protocol):
    def stream_text(self, text: str, **options: Any) -> Iterator[str]: ...


@runtime_checkable
class Recommender(Protocol):
    def recommend(self, user: Any, k: int = 10) -> pl.DataFrame: ...


@runtime_checkable
class ImageExplainer(Protocol):
    """Predictors that explain an image with a heatmap (Grad-CAM); returns one
    explanation per row, each with ``image``, ``heatmap``, ``label`` and ``probability``."""

    def explain_image(self, batch: pl.DataFrame) -> Sequence[Any]: ...


@runtime_checkable
class HasStudies(Protocol):
    """Domains whose single inputs are image files (PNG/JPEG/DICOM) opened as studies."""

    def open_study(self, name: str, payload: bytes) -> Any: ...

    def sample_studies(self) -> dict[str, Path]: ...

    def study_frame(self, study: Any, frame: int = 0, window: tuple[float, float] | None = None) -> pl.DataFrame: ...

    def scope_notes(self, predictor: Predictor, data: DomainData, row: pl.DataFrame, study: Any = None) -> list[str]:
        """Why the model's verdict may not apply to this input (another modality or body part,
        an image unlike the training data); empty when it looks like what the model knows."""
        ...


@runtime_checkable
class HasInputReader(Protocol):
    """Domains whose prediction inputs are not plain tables (images, DICOM, text files)."""

    def read_input(self, path: Path) -> pl.DataFrame: ...


@runtime_checkable
class HasTextInputs(Protocol):
    """Domains whose single input is a free text: example texts to start from, and word
    attributions (``explain_text`` returns an object with ``text``, ``segments`` of
    (start, end, score), ``label``, ``probability``, ``method``, ``truncated``)."""

    def sample_texts(self, data: DomainData) -> list[str]: ...

    def explain_text(self, predictor: Predictor, text: str) -> Any: ...


@runtime_checkable
class ModelComparer(Protocol):
    """Domains that score several models on one split side by side (a table and a chart)."""

    def compare(self, predictors: Mapping[str, Predictor], data: DomainData,
                split: str = "test") -> tuple[pl.DataFrame, go.Figure]: ...


@runtime_checkable
class HasLanguagePairs(Protocol):
    """Predictors that translate between languages: the pairs they offer and a copy set
    to one of them."""

    def pairs(self) -> list[tuple[str, str]]: ...

    def with_pair(self, src: str, tgt: str) -> Any: ...


@runtime_checkable
class HasFilePredictor(Protocol):
    """Domains that handle some input files whole (e.g. documents translated with their
    layout kept). ``predict_file`` returns False for files it leaves to the table path."""

    def predict_file(self, predictor: Predictor, source: Path, target: Path,
                     progress: Callable[[int, int], None]) -> bool: ...


@runtime_checkable
class HasScoringCheck(Protocol):
    """Predictors with an approximate fast path (int8 engines): which path scores on this
    machine, checked here against the exact one (``models.fastpath``); None where no
    fast path applies (a GPU, or int8 turned off for the model)."""

    def scoring(self) -> Scoring | None: ...
