"""Display names and number formats for metrics, columns and fields: what people read
instead of code names (``p_bad`` -> "Probability of default", 0.7312 -> "73.1%").

The shared vocabulary (metrics every kind of model has) lives here; a domain's own terms
(its fields, outputs and metrics) are its ``labels`` (``Domain.labels``), next to its code,
and win over these. Views never hold vocabulary: they call ``display_name`` and ``format_value``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from domains.base import DomainLensError, FieldSpec

Format = Literal["percent", "decimal", "integer", "ratio", "seconds", "rate", "money", "text"]


@dataclass(frozen=True)
class Label:
    name: str
    format: Format = "decimal"
    help: str = ""


COMMON: dict[str, Label] = {
    "accuracy": Label("Accuracy", "percent"), "acc": Label("Accuracy", "percent"),
    "val_accuracy": Label("Validation accuracy", "percent"), "macro_f1": Label("Macro F1", "decimal"),
    "f1": Label("F1", "decimal"), "precision": Label("Precision", "percent"), "recall": Label("Recall", "percent"),
    "auc": Label("AUC", "decimal", "Area under the ROC curve: 0.5 is chance, 1 is perfect ranking."),
    "val_auc": Label("Validation AUC", "decimal"), "gini": Label("Gini", "decimal"),
    "ks": Label("KS statistic", "decimal"), "brier": Label("Brier score", "decimal", "Lower is better."),
    "log_loss": Label("Log loss", "decimal", "Lower is better."),
    "ece": Label("Calibration error (ECE)", "decimal", "Expected calibration error; lower is better."),
    "sensitivity": Label("Sensitivity", "percent"), "specificity": Label("Specificity", "percent"),
    "threshold": Label("Threshold", "decimal"), "images": Label("Images", "integer"),
    "texts_per_s": Label("Texts per second", "rate"),
    "train_loss": Label("Training loss"), "val_loss": Label("Validation loss"), "loss": Label("Loss"),
    "train_seconds": Label("Training time", "seconds"), "seconds": Label("Time", "seconds"),
    "prediction": Label("Prediction", "text"), "confidence": Label("Confidence", "percent"),
    "score": Label("Score", "decimal"), "decision": Label("Decision", "text"),
    "flagged": Label("Flagged for review", "text"), "rows": Label("Rows", "integer"),
    "step": Label("Training step", "integer"), "epoch": Label("Epoch", "integer"), "fold": Label("Fold", "integer"),
    "latency_ms": Label("Latency (ms)", "integer"), "arrival": Label("Arrival #", "integer"),
    "tpr": Label("True positive rate", "percent"),
    "fpr": Label("False positive rate", "percent"), "support": Label("Support", "integer"),
    "n": Label("Count", "integer"), "count": Label("Count", "integer"), "len": Label("Count", "integer"),
    "psi": Label("Population stability (PSI)", "decimal"), "ratio": Label("Ratio", "decimal"),
}
_PATTERNS = {"percent": "{:.1%}", "ratio": "{:.2f}x", "seconds": "{:,.1f} s", "rate": "{:,.1f} /s",
             "money": "{:,.0f}"}


def _own_labels(domain: str | None) -> Mapping[str, Label]:
    """The domain's own terms (``Domain.labels``, and its menu models' names by key); none for
    no domain or one not registered."""
    if not domain:
        return {}
    return _domain_labels(domain)


@functools.lru_cache(maxsize=32)
def _domain_labels(domain: str) -> Mapping[str, Label]:
    from domains import registry  # the registry's domains import this module

    try:
        found = registry.get(domain)
    except DomainLensError:
        return {}
    return {**{spec.key: Label(spec.title, "text") for spec in found.models()}, **found.labels}


def label_of(name: str, domain: str | None = None) -> Label:
    own = _own_labels(domain)
    if name in own:
        return own[name]
    if name in COMMON:
        return COMMON[name]
    for prefix, pattern in _PREFIXES.items():  # e.g. fold_ks: the fold's reading of a known metric
        if name.startswith(prefix) and len(name) > len(prefix):
            inner = label_of(name.removeprefix(prefix), domain)
            return Label(pattern.format(_lower_first(inner.name)), inner.format, inner.help)
    return Label(humanize(name))


# Metric names with these prefixes read as the same metric, measured somewhere else.
_PREFIXES = {"val_": "Validation {}", "fold_": "Per-fold {}", "train_": "Training {}", "test_": "Test {}"}


def _lower_first(text: str) -> str:
    """"Accuracy" -> "accuracy" inside a sentence; acronyms ("AUC", "KS") stay as they are."""
    return text[:1].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def display_name(name: str, domain: str | None = None) -> str:
    return label_of(name, domain).name


_CODE_LIKE = re.compile(r"^[a-z][a-z0-9@]*(?:_[a-z0-9@]+)*$")


def is_code_name(text: str) -> bool:
    """Written the way code names things: lowercase words joined by underscores (``p_bad``, ``ndcg@10``)."""
    return bool(_CODE_LIKE.match(text))


def readable(text: str, domain: str | None = None) -> str:
    """``text`` as people read it when it is a code name (``approval_rate``, ``ndcg@10``: one
    with an underscore or one a label is known for); anything else (a class, a title, a label
    already shown) is returned as it is, so applying this twice changes nothing."""
    if not is_code_name(text):
        return text
    if "_" in text or text in _own_labels(domain) or text in COMMON:
        return display_name(text, domain)
    return text


# Columns whose values are themselves names of columns or metrics (a fairness table's
# "attribute" and "metric", a drift table's "feature"): their values are shown by display name too.
NAME_COLUMNS = frozenset({"attribute", "metric", "feature", "field", "column", "variable", "model"})
# Printf formats for tables (Streamlit's NumberColumn), one per kind, as ``format_as`` writes
# them; percentages are shown from values multiplied by 100 (``display_frame``).
TABLE_FORMATS: dict[str, str] = {"percent": "%.1f%%", "decimal": "%.3f", "integer": "%d", "ratio": "%.2fx",
                                 "seconds": "%.1f s", "rate": "%.1f /s", "money": "%d"}


def display_frame(frame: pl.DataFrame, domain: str | None = None) -> tuple[pl.DataFrame, dict[str, str]]:
    """A table as the page shows it: display names for columns (and for the values of name
    columns), numbers scaled for their format, and the printf format for each numeric column.
    Downloads keep ``frame`` itself: code names and raw values, which scripts rely on."""
    formats: dict[str, str] = {}
    columns: list[pl.Expr] = []
    names = [display_name(c, domain) for c in frame.columns]
    unique = {n for n in names if names.count(n) == 1}
    for column, shown in zip(frame.columns, names, strict=True):
        shown = shown if shown in unique else column  # a name two columns would share stays as it was
        dtype = frame.schema[column]
        expr = pl.col(column)
        kind = label_of(column, domain).format
        if dtype.is_integer() and kind == "decimal":
            kind = "integer"  # a count or an id: no decimals
        if dtype.is_numeric() and kind in TABLE_FORMATS:
            if kind == "percent":
                expr = expr * 100
            elif kind in ("integer", "money"):
                expr = expr.round(0)
            formats[shown] = TABLE_FORMATS[kind]
        elif dtype == pl.String and column in NAME_COLUMNS:
            values = frame[column].unique().drop_nulls().to_list()
            shown_values = {v: readable(v, domain) for v in values}
            mapping = {v: r for v, r in shown_values.items() if r != v}
            if mapping:
                expr = expr.replace(mapping)
        columns.append(expr.alias(shown))
    return frame.select(columns), formats


def humanize(name: str) -> str:
    """``duration_in_month`` -> "Duration in month" (a name nobody gave a label yet)."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def format_value(name: str, value: object, domain: str | None = None) -> str:
    """The value as people read it: percentages, thousands separators, sensible decimals."""
    return format_as(label_of(name, domain).format, value)


def format_as(kind: Format, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if kind == "integer":
        return f"{round(value):,}"
    if kind in _PATTERNS:
        return _PATTERNS[kind].format(value)
    if kind == "text":
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def outside_training_range(fields: Sequence[FieldSpec], values: Mapping[str, object], domain: str | None = None,
                           ) -> list[str]:
    """A sentence per numeric input outside the range the model saw in training (its
    prediction there is an extrapolation, e.g. a negative loan amount)."""
    notes = []
    for field in fields:
        value = values.get(field.name)
        if field.kind not in ("number", "integer") or not isinstance(value, int | float):
            continue
        low, high = field.minimum, field.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            seen = f"{format_value(field.name, low, domain)} to {format_value(field.name, high, domain)}"
            notes.append(f"{display_name(field.name, domain)} = {format_value(field.name, value, domain)} is outside "
                         f"the range seen in training ({seen}): the model has not seen such values, so treat "
                         "this score with caution.")
    return notes
