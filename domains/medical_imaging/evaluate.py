"""Evaluation of an image predictor on one split: metrics at the stored threshold,
curves, per-class table and the most confident mistakes (the gallery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from sklearn import metrics as skm

from domains.base import DataError, DomainData, Report
from domains.metrics import (
    binary_metrics,
    calibration_frame,
    confusion_frame,
    expected_calibration_error,
    outcomes_frame,
    roc_frame,
    threshold_metrics,
)

if TYPE_CHECKING:
    from domains.medical_imaging.predict import ImagePredictor

GALLERY = 6  # images per mistake kind
BATCH = 512


def evaluate(predictor: ImagePredictor, data: DomainData, split: str) -> Report:
    rows = evaluation_rows(predictor, data, split)
    probs = np.concatenate([predictor.proba(predictor.tensor(rows.slice(i, BATCH))[0])
                            for i in range(0, rows.height, BATCH)])
    report = evaluate_probs(predictor, rows, probs)
    report.info["split"] = split
    return report


def evaluate_scored(predictor: ImagePredictor, rows: pl.DataFrame, predictions: pl.DataFrame, split: str) -> Report:
    """The report from ``predict``'s rows (their ``probabilities``) for ``rows``."""
    probs = np.array(predictions["probabilities"].to_list(), dtype=np.float64).reshape(rows.height, -1)
    report = evaluate_probs(predictor, rows, probs)
    report.info["split"] = split
    return report


def evaluation_rows(predictor: ImagePredictor, data: DomainData, split: str) -> pl.DataFrame:
    """The labelled images of ``split``, checked against the classes the model knows."""
    rows = data.split(split)
    if rows["label"].null_count() == rows.height:
        raise DataError(f"The '{split}' split has no labels to evaluate against.")
    rows = rows.filter(pl.col("label").is_not_null())
    top = int(rows["label"].cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
    if top >= len(predictor.labels):
        raise DataError(f"{data.name} has labels up to {top} but the model knows "
                        f"{len(predictor.labels)} classes ({', '.join(predictor.labels)}).")
    return rows


def evaluate_probs(predictor: ImagePredictor, rows: pl.DataFrame, probs: np.ndarray) -> Report:
    y = rows["label"].to_numpy().astype(int)
    names = predictor.labels
    if predictor.binary:
        assert predictor.positive is not None
        truth = (y == predictor.positive).astype(int)
        score = probs[:, predictor.positive]
        ranking = binary_metrics(truth, score)
        at = threshold_metrics(truth, score, predictor.threshold)
        metrics = {"auc": ranking["auc"], "acc": at["acc"], "sensitivity": at["sensitivity"],
                   "specificity": at["specificity"], "f1": at["f1"], "precision": at["precision"],
                   "ece": ranking["ece"], "brier": ranking["brier"], "threshold": predictor.threshold,
                   "images": float(len(y))}
        negative = names[1 - predictor.positive]
        pair = (negative, names[predictor.positive])
        frames = {"roc": roc_frame(truth, score) if len(np.unique(truth)) == 2 else pl.DataFrame(),
                  "confusion": confusion_frame(truth, score, predictor.threshold, pair),
                  "calibration": calibration_frame(truth, score)}
        predicted = np.where(score >= predictor.threshold, predictor.positive, 1 - predictor.positive)
        frames["outcomes"] = outcomes_frame(truth, (score >= predictor.threshold).astype(int), score)
        operating = (1 - at["specificity"], at["sensitivity"])
    else:
        predicted = probs.argmax(axis=1)
        confidence = probs.max(axis=1)
        present = np.unique(y)
        class_aucs = per_class(y, predicted, probs, names)["auc"].to_numpy()
        # One-vs-rest macro AUC over the classes this split contains (others have no positives).
        auc = float(np.nanmean(class_aucs)) if np.isfinite(class_aucs).any() else float("nan")
        metrics = {"auc": auc, "acc": float((predicted == y).mean()),
                   "macro_f1": float(skm.f1_score(y, predicted, average="macro", labels=list(present))),
                   "ece": expected_calibration_error((predicted == y).astype(int), confidence),
                   "images": float(len(y))}
        frames = {"confusion": pl.DataFrame([
            {"actual": names[a], "predicted": names[b], "count": int(np.sum((y == a) & (predicted == b)))}
            for a in range(len(names)) for b in range(len(names))]),
            "calibration": calibration_frame((predicted == y).astype(int), confidence),
            "outcomes": outcomes_frame(y, predicted)}
        operating = None
    frames["per_class"] = per_class(y, predicted, probs, names)
    frames["gallery"] = gallery(rows, y, predicted, probs, predictor)
    return Report(metrics, frames, info={"operating_point": operating, "labels": list(names)},
                  headline=("auc", "acc", "sensitivity", "specificity", "f1", "macro_f1", "ece", "brier"),
                  tables={"per_class": "Per class"})


def per_class(y: np.ndarray, predicted: np.ndarray, probs: np.ndarray, names: tuple[str, ...]) -> pl.DataFrame:
    labels = list(range(len(names)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, predicted, labels=labels,
                                                                          zero_division=0)
    aucs = [float(skm.roc_auc_score(y == c, probs[:, c])) if 0 < (y == c).sum() < len(y) else float("nan")
            for c in labels]
    return pl.DataFrame({"class": list(names), "precision": precision, "recall": recall, "f1": f1,
                         "auc": aucs, "support": support.astype(np.int64)})


def gallery(rows: pl.DataFrame, y: np.ndarray, predicted: np.ndarray, probs: np.ndarray,
            predictor: ImagePredictor) -> pl.DataFrame:
    """The most confident false positives and false negatives (binary), or the most
    confident mistakes (multi-class): where a reviewer should look first."""
    wrong = np.flatnonzero(predicted != y)
    confidence = probs[np.arange(len(y)), predicted]
    if predictor.binary:
        kind = np.where(predicted[wrong] == predictor.positive, "false positive", "false negative")
    else:
        kind = np.array(["mistake"] * len(wrong))
    table = pl.DataFrame({"row": wrong, "kind": kind, "confidence": confidence[wrong]}, schema_overrides={
        "row": pl.Int64, "kind": pl.String, "confidence": pl.Float64})
    top = table.sort("confidence", descending=True).group_by("kind", maintain_order=True).head(GALLERY)
    picked = rows[top["row"].to_list()].select("id", "pixels", "height", "width", "channels")
    names = np.array(predictor.labels)
    return picked.with_columns(
        pl.Series("kind", top["kind"]), pl.Series("confidence", top["confidence"]),
        pl.Series("actual", names[y[top["row"].to_numpy()]] if top.height else [], dtype=pl.String),
        pl.Series("predicted", names[predicted[top["row"].to_numpy()]] if top.height else [], dtype=pl.String),
    )
