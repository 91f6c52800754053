"""Optional capabilities: what a predictor or a domain can do beyond the ``Domain``
contract, and the typed results they return. Pages and the CLI check them with
``isinstance(x, Explainer)`` and so on, never by domain name; a domain offers one by
having its members (the protocols are structural).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import plotly.graph_objects as go
import polars as pl

from domains.base import DomainData, FieldSpec, Predictor, Report
from models.control import CancelToken, ProgressFn
from models.fastpath import Scoring

if TYPE_CHECKING:  # domains.images builds on domains.base
    from domains.images import Study

@dataclass
class Explanation:
    """Additive attributions for one input: ``base + sum(contribution) == value``."""

    frame: pl.DataFrame  # columns: feature, value, contribution
    base_value: float
    output_value: float
    space: str = "log-odds"
    outcome: str = "a higher score"  # what a positive contribution pushes toward, in words


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
    """Predictors with additive per-feature explanations (SHAP, integrated gradients)."""

    def explain(self, row: pl.DataFrame) -> Explanation:
        """Contributions of each input feature to the first row's output."""
        ...

    def global_importance(self, data: pl.DataFrame) -> pl.DataFrame:
        """``feature`` and ``importance`` (mean absolute contribution over ``data``), largest first."""
        ...


@runtime_checkable
class Thresholded(Protocol):
    """Predictors that flag a row when a score reaches a threshold (stored with the model,
    chosen on its validation data)."""

    @property
    def threshold(self) -> float: ...

    def with_threshold(self, threshold: float) -> Predictor:
        """A copy deciding at ``threshold`` (0-1); the shared predictor is unchanged."""
        ...


@runtime_checkable
class HasEvaluationOptions(Protocol):
    """Domains whose evaluation takes user inputs (e.g. a cost matrix); their values reach
    ``Domain.evaluate`` as ``options`` under the fields' names."""

    def evaluation_fields(self) -> list[FieldSpec]: ...


@runtime_checkable
class HasStreamOptions(Protocol):
    """Domains whose live stream takes user inputs (e.g. simulated drift); their values
    reach ``Domain.stream`` as ``options`` under the fields' names."""

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

    def read_input(self, path: Path) -> pl.DataFrame:
        """The rows ``Predictor.predict`` takes, read from a file or folder; ``DataError``
        for a missing or unreadable one."""
        ...


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
                split: str = "test") -> tuple[pl.DataFrame, go.Figure]:
        """One table row per named predictor (its metrics and speed on ``split``) and a chart
        of the trade-off."""
        ...


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

    def sentence_count(self, text: str) -> int:
        """How many sentences ``stream_text`` translates (the total a progress counter shows)."""
        ...

    def stream_text(self, text: str, *, stop: CancelToken | None = None,
                    on_sentence: Callable[[str, str], None] | None = None) -> Iterator[str]:
        """The translation of ``text`` (any length) as it is produced: token pieces or whole
        sentences. ``stop`` ends it early; ``on_sentence`` gets each finished (source,
        translation) pair."""
        ...

    def alternatives(self, text: str, n: int = 3) -> list[str]:
        """Up to ``n`` candidate translations of one sentence, best first."""
        ...

    def translate_column(self, texts: Sequence[str | None], *, progress: ProgressFn | None = None,
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
                     progress: ProgressFn) -> bool:
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


@runtime_checkable
class HasScoredEvaluation(Protocol):
    """Domains whose evaluation can be reduced from rows scored elsewhere (a Ray cluster):
    the workers run ``evaluation_predictions`` over ``evaluation_rows`` and the driver builds
    the same report as ``Domain.evaluate`` from every prediction, exactly, not from estimates."""

    def evaluation_rows(self, predictor: Predictor, data: DomainData, split: str) -> pl.DataFrame:
        """The rows ``evaluate`` scores on ``split``, as ``predict`` reads them (labels kept);
        raises ``DataError`` as ``evaluate`` does for a split without labels."""
        ...

    def evaluation_predictions(self, predictor: Predictor, rows: pl.DataFrame) -> pl.DataFrame:
        """What each actor computes for a batch of ``evaluation_rows``: what ``evaluate``
        itself computes per row (``predict`` for most domains; a translator translates each
        line whole, as its evaluation does)."""
        ...

    def evaluate_scored(self, predictor: Predictor, data: DomainData, rows: pl.DataFrame,
                        predictions: pl.DataFrame, *, split: str, seconds: float) -> Report:
        """``evaluate``'s report from ``predictions`` (``evaluation_predictions``' columns, one
        row per row of ``rows``, in the same order), scored in ``seconds``."""
        ...
