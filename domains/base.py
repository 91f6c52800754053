"""Contracts every DomainLens domain implements, and the optional capabilities
pages look for. Pages check capabilities (``isinstance(x, Explainer)``), never
domain names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import plotly.graph_objects as go
import polars as pl
import torch

from models.checkpoints import Bundle, BundleWriter
from models.errors import DomainLensError as DomainLensError  # the one user-error base, re-exported
from models.fastpath import Scoring
from models.seq2seq import StopFlag
from models.training import CancelToken, ProgressFn

if TYPE_CHECKING:  # domains.images builds on this module
    from domains.images import Study

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
    evaluate_on_demand: bool  # evaluation is slow (e.g. translating a split): run it on request only
    summary_metrics: tuple[str, ...]  # checkpoint metrics that sum a model up in menus; the first present is shown

    def datasets(self) -> Sequence[DataSource]: ...

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        """Load a bundled dataset by key, or a user file by path (``None``: default)."""
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


@dataclass(frozen=True)
class TextAttribution:
    """Word attributions for one text: ``segments`` are (start, end, score) character spans
    of ``text``; a positive score pushed toward ``label``."""

    text: str
    segments: list[tuple[int, int, float]]
    label: str
    probability: float
    method: str  # e.g. "integrated gradients" or "occlusion"
    truncated: bool = False  # the model read only the beginning of the text
    gap: float = 0.0  # completeness gap of the attribution method (0 where exact)

    def frame(self) -> pl.DataFrame:
        """One row per attributed word: ``word``, ``attribution``."""
        return pl.DataFrame({"word": [self.text[a:b] for a, b, _ in self.segments],
                             "attribution": [s for _, _, s in self.segments]},
                            schema={"word": pl.String, "attribution": pl.Float64})


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
class Recommender(Predictor, Protocol):
    """Predictors that rank items for users. Lists are frames with ``rank``, ``title``,
    ``why`` (a reason), ``genres``, ``score`` and ``item`` (the id), best first. Unknown
    users or items raise ``DataError``."""

    @property
    def item_noun(self) -> str:
        """What the items are, plural, for labels ("movies")."""
        ...

    def users(self) -> list[str]:
        """Ids of the users the model knows."""
        ...

    def known_user(self, user: str) -> bool: ...

    def recommend(self, user: Any, k: int = 10) -> pl.DataFrame:
        """Top ``k`` for a known user; items the user already rated are never listed."""
        ...

    def recommend_for_items(self, items: Sequence[str], k: int = 10) -> pl.DataFrame:
        """Top ``k`` for a new visitor who likes ``items`` (no retraining); none: the most popular."""
        ...

    def similar_items(self, item: str, k: int = 10) -> pl.DataFrame:
        """The ``k`` items closest to ``item``: ``item``, ``title``, ``genres``, ``similarity``."""
        ...

    def item_choices(self) -> dict[str, str]:
        """Item id -> label for pickers, most rated first."""
        ...

    def item_map(self) -> pl.DataFrame:
        """Every item placed in 2-D from its embedding: ``item``, ``title``, ``group`` (colour),
        ``x``, ``y``, ``ratings``."""
        ...


@runtime_checkable
class HasUserProfiles(Protocol):
    """Domains that describe a user of their data: what they rated and charts of it."""

    def user_profile(self, data: DomainData, user: str) -> tuple[pl.DataFrame, dict[str, go.Figure]]:
        """(the user's history, charts of it); ``DataError`` for a user absent from ``data``."""
        ...


@dataclass(frozen=True)
class ImageExplanation:
    """A heatmap over one image: ``image`` is what the model saw (8-bit, H x W or H x W x 3),
    ``heatmap`` a [0, 1] map of the same H x W, toward ``label`` (probability ``probability``)."""

    image: np.ndarray
    heatmap: np.ndarray
    label: str
    probability: float


@runtime_checkable
class ImageExplainer(Predictor, Protocol):
    """Image predictors that explain a prediction with a heatmap (e.g. Grad-CAM)."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names; a row's ``label`` code indexes this."""
        ...

    def explain_image(self, batch: pl.DataFrame) -> Sequence[ImageExplanation]:
        """One explanation per row of ``batch`` (rows in the domain's image schema)."""
        ...


@runtime_checkable
class HasStudies(Protocol):
    """Domains whose single inputs are image files (PNG/JPEG/DICOM) opened as studies."""

    def open_study(self, name: str, payload: bytes) -> Study:
        """Decode an uploaded image or DICOM file; ``DataError`` saying what is wrong otherwise."""
        ...

    def sample_studies(self) -> dict[str, Path]:
        """Example files to try, by display name."""
        ...

    def study_frame(self, study: Study, frame: int = 0,
                    window: tuple[float, float] | None = None) -> pl.DataFrame:
        """One frame of ``study`` under ``window`` as a one-row frame the predictor scores."""
        ...

    def scope_notes(self, predictor: Predictor, data: DomainData, row: pl.DataFrame,
                    study: Study | None = None) -> list[str]:
        """Why the model's verdict may not apply to this input (another modality or body part,
        an image unlike the training data); empty when it looks like what the model knows."""
        ...


@runtime_checkable
class HasInputReader(Protocol):
    """Domains whose prediction inputs are not plain tables (images, DICOM, text files)."""

    def read_input(self, path: Path) -> pl.DataFrame: ...


@runtime_checkable
class HasSampleTexts(Protocol):
    """Domains whose single input is a free text, with examples to start from."""

    def sample_texts(self, data: DomainData) -> list[str]:
        """A few texts from ``data`` (or built in) to prefill the input box; may be empty."""
        ...


@runtime_checkable
class HasTextInputs(HasSampleTexts, Protocol):
    """Text domains that also explain a prediction word by word."""

    def explain_text(self, predictor: Predictor, text: str) -> TextAttribution:
        """Which spans of ``text`` pushed the predicted label up or down."""
        ...


@runtime_checkable
class ModelComparer(Protocol):
    """Domains that score several models on one split side by side (a table and a chart)."""

    def compare(self, predictors: Mapping[str, Predictor], data: DomainData,
                split: str = "test") -> tuple[pl.DataFrame, go.Figure]: ...


@dataclass(frozen=True)
class Detection:
    """The language a text is most likely written in."""

    language: str | None  # ISO 639-1 code; None when the text gives too little to go on
    confidence: float  # 0-1
    candidates: tuple[tuple[str, float], ...] = ()  # the top guesses, most likely first


@runtime_checkable
class Translator(Predictor, Protocol):
    """Predictors that translate text between languages. Copies are configured (pair,
    glossary, decoder), never the shared predictor itself.

    Every method that takes no ``src``/``tgt`` works on the copy's pair; a pair the model
    does not offer raises ``DataError`` naming the pairs it does.
    """

    src: str
    tgt: str

    @property
    def backend(self) -> str:
        """What decodes: e.g. ``offline``, ``transformers``, ``ctranslate2``."""
        ...

    def pairs(self) -> list[tuple[str, str]]:
        """(source, target) language codes this model translates, the default first."""
        ...

    def with_pair(self, src: str, tgt: str) -> Translator: ...

    def language_name(self, code: str) -> str:
        """``"pt"`` -> ``"Portuguese"``; unknown codes come back as they are."""
        ...

    def detect(self, text: str) -> Detection: ...

    def with_glossary_text(self, text: str) -> Translator:
        """A copy that keeps glossary terms: one per line, ``term`` (kept as is) or
        ``source => target``. Raises ``DataError`` on a line it cannot read."""
        ...

    def glossary_report(self, sources: Sequence[str], translations: Sequence[str]) -> pl.DataFrame | None:
        """Per glossary term: occurrences and whether the required form made it through;
        None without a glossary."""
        ...

    def decoders(self) -> list[str]:
        """Names of the decoders this model can switch to, the current one first; one
        entry when there is no choice."""
        ...

    def with_decoder(self, decoder: str) -> tuple[Translator, Scoring | None]:
        """A copy decoded by ``decoder`` (converted once; slow on first use) where it agrees
        with the exact decoder on this machine, else an unchanged copy; with the verdict
        (None for an exact decoder). Callers share the result between sessions."""
        ...

    def stream_text(self, text: str, *, stop: StopFlag | None = None,
                    on_sentence: Callable[[str, str], None] | None = None) -> Iterator[str]:
        """The translation of ``text`` (any length) as it is produced: token pieces or whole
        sentences. ``stop`` ends it early; ``on_sentence`` gets each finished (source,
        translation) pair."""
        ...

    def alternatives(self, text: str, n: int = 3) -> list[str]:
        """Up to ``n`` candidate translations of one sentence, best first."""
        ...

    def translate_column(self, texts: Sequence[str | None], *, progress: Callable[[int, int], None] | None = None,
                         resume: Path | None = None) -> list[str | None]:
        """Every cell translated (empty cells stay None), reporting (done, total) sentences;
        finished sentences are appended to ``resume`` so an interrupted run continues."""
        ...

    def partial_path(self, text: str) -> Path:
        """Where a partial translation of ``text`` (a document or a joined column) is kept."""
        ...


@runtime_checkable
class HasFilePredictor(Protocol):
    """Domains that handle some input files whole (e.g. documents translated with their
    layout kept): files ending in one of ``file_suffixes``."""

    file_suffixes: tuple[str, ...]

    def predict_file(self, predictor: Predictor, source: Path, target: Path,
                     progress: Callable[[int, int], None]) -> bool:
        """Write the prediction for ``source`` to ``target``, reporting (done, total).
        Returns False, writing nothing, for a file it leaves to the table path; raises
        ``DataError`` for a missing, empty or unreadable file."""
        ...


@runtime_checkable
class HasScoringCheck(Protocol):
    """Predictors with an approximate fast path (int8 engines): which path scores on this
    machine, checked here against the exact one (``models.fastpath``); None where no
    fast path applies (a GPU, or int8 turned off for the model)."""

    def scoring(self) -> Scoring | None: ...
