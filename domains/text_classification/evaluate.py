"""Evaluation of a text predictor on one split: accuracy, macro-F1, per-class
precision/recall, calibration (ECE), the confusion matrix, a confidence histogram,
the misclassified examples and the scoring speed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from sklearn import metrics as skm

from domains.base import DataError, DomainData, Report
from domains.metrics import calibration_frame, expected_calibration_error, outcomes_frame
from domains.text_classification import data as text_data

if TYPE_CHECKING:
    from domains.text_classification.predictor import TextPredictor

MISTAKES = 200  # rows kept in the misclassified table


def evaluation_rows(predictor: TextPredictor, data: DomainData, split: str) -> pl.DataFrame:
    """The labelled texts of ``split``, checked against the labels the model knows."""
    rows = text_data.labelled(data.split(split))
    if rows.is_empty():
        raise DataError(f"The '{split}' split of {data.name} has no labelled texts to evaluate against.")
    unknown = sorted(set(rows["label"].unique().to_list()) - set(predictor.labels))
    if unknown:
        raise DataError(f"{data.name} has labels the model does not know: {', '.join(unknown[:5])}. "
                        f"It predicts: {', '.join(predictor.labels)}. Use label names as trained.")
    return rows


def evaluate(predictor: TextPredictor, data: DomainData, split: str) -> Report:
    rows = evaluation_rows(predictor, data, split)
    texts = rows["text"].to_list()
    started = time.perf_counter()
    probs, truncated = predictor.proba(texts)
    seconds = time.perf_counter() - started
    report = evaluate_probs(predictor.labels, rows, probs)
    report.metrics["texts_per_s"] = len(texts) / max(seconds, 1e-9)
    report.metrics["truncated"] = float(truncated.mean())
    report.info["split"] = split
    return report


def evaluate_scored(predictor: TextPredictor, rows: pl.DataFrame, predictions: pl.DataFrame, split: str,
                    seconds: float) -> Report:
    """The report from ``predict``'s rows (``p_<class>``, ``truncated``) for ``rows``."""
    probs = predictions.select(f"p_{name}" for name in predictor.labels).to_numpy()
    if np.isnan(probs).any():
        raise DataError(f"{int(np.isnan(probs).any(axis=1).sum())} labelled rows have an empty text; "
                        "drop them or give them a text to evaluate")
    report = evaluate_probs(predictor.labels, rows, probs)
    report.metrics["texts_per_s"] = rows.height / max(seconds, 1e-9)
    report.metrics["truncated"] = float(predictions["truncated"].to_numpy().astype(float).mean())
    report.info["split"] = split
    return report


def evaluate_probs(labels: tuple[str, ...], rows: pl.DataFrame, probs: np.ndarray) -> Report:
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[v] for v in rows["label"].to_list()])
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    correct = (predicted == y).astype(int)
    classes = list(range(len(labels)))
    present = sorted(set(y.tolist()))
    metrics = {
        "accuracy": float(correct.mean()),
        "macro_f1": float(skm.f1_score(y, predicted, labels=present, average="macro", zero_division=0)),
        "ece": expected_calibration_error(correct, confidence),
        "log_loss": float(skm.log_loss(y, np.clip(probs, 1e-7, 1), labels=classes)),
        "texts": float(len(y)),
    }
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, predicted, labels=classes,
                                                                          zero_division=0)
    for name, p, r in zip(labels, precision, recall, strict=True):
        metrics[f"precision_{name}"], metrics[f"recall_{name}"] = float(p), float(r)
    frames = {
        "per_class": pl.DataFrame({"class": list(labels), "precision": precision, "recall": recall, "f1": f1,
                                   "support": support.astype(np.int64)}),
        "confusion": pl.DataFrame([{"actual": labels[a], "predicted": labels[b],
                                    "count": int(np.sum((y == a) & (predicted == b)))}
                                   for a in classes for b in classes]),
        "calibration": calibration_frame(correct, confidence),
        "confidence": pl.DataFrame({"confidence": confidence, "outcome": np.where(correct == 1, "correct", "wrong")}),
        "mistakes": mistakes(rows, labels, y, predicted, confidence),
        "outcomes": outcomes_frame(y, predicted),
    }
    return Report(metrics, frames, info={"labels": list(labels)},
                  headline=("accuracy", "macro_f1", "ece", "log_loss"),
                  tables={"per_class": "Per class", "mistakes": "Misclassified, most confident first"})


def mistakes(rows: pl.DataFrame, labels: tuple[str, ...], y: np.ndarray, predicted: np.ndarray,
             confidence: np.ndarray) -> pl.DataFrame:
    """Misclassified texts, most confident first: where the model is surely wrong."""
    wrong = np.flatnonzero(predicted != y)
    names = np.array(labels, dtype=object)
    table = pl.DataFrame({
        "text": [rows["text"][int(i)] for i in wrong],
        "actual": pl.Series(names[y[wrong]].tolist(), dtype=pl.String),
        "predicted": pl.Series(names[predicted[wrong]].tolist(), dtype=pl.String),
        "confidence": pl.Series(confidence[wrong], dtype=pl.Float64),
    })
    return table.sort("confidence", descending=True).head(MISTAKES)
