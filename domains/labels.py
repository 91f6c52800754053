"""Display names and number formats for metrics, columns and fields: what people read
instead of code names (``p_bad`` -> "Probability of default", 0.7312 -> "73.1%").

The shared vocabulary (metrics every kind of model has) lives here; a domain's own terms
(its fields, outputs and metrics) are its ``labels`` (``Domain.labels``), next to its code,
and win over these. Views never hold vocabulary: they call ``display_name`` and ``format_value``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

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
    "latency_ms": Label("Latency (ms)"), "arrival": Label("Arrival #", "integer"),
    "tpr": Label("True positive rate", "percent"),
    "fpr": Label("False positive rate", "percent"), "support": Label("Support", "integer"),
}
_PATTERNS = {"percent": "{:.1%}", "ratio": "{:.2f}x", "seconds": "{:,.1f} s", "rate": "{:,.1f} /s",
             "money": "{:,.0f}"}


def _own_labels(domain: str | None) -> Mapping[str, Label]:
    """The domain's own terms (``Domain.labels``); none for no domain or one not registered."""
    if not domain:
        return {}
    from domains import registry  # the registry's domains import this module

    try:
        return registry.get(domain).labels
    except DomainLensError:
        return {}


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
