"""Classification metrics shared by domains. Inputs are numpy arrays: ``y`` in {0, 1}
(1 = the positive class, e.g. "bad" applicant) and ``p`` = predicted P(y = 1)."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn import metrics as skm

ECE_BINS = 10


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Ranking and probability-quality metrics (threshold free)."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    both = len(np.unique(y)) == 2
    auc = float(skm.roc_auc_score(y, p)) if both else float("nan")
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y, p) if both else float("nan"),
        "brier": float(skm.brier_score_loss(y, p)),
        "log_loss": float(skm.log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
    }


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Metrics of the decision ``p >= threshold`` (positive = flagged)."""
    y = np.asarray(y, dtype=int)
    pred = np.asarray(p) >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    sens = tp / (tp + fn) if tp + fn else 0.0
    spec = tn / (tn + fp) if tn + fp else 0.0
    prec = tp / (tp + fp) if tp + fp else 0.0
    return {
        "acc": (tp + tn) / max(len(y), 1),
        "sensitivity": sens,
        "specificity": spec,
        "precision": prec,
        "f1": 2 * prec * sens / (prec + sens) if prec + sens else 0.0,
        "flag_rate": float(pred.mean()) if len(pred) else 0.0,
    }


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the classes' score CDFs."""
    fpr, tpr, _ = skm.roc_curve(y, p)
    return float(np.max(tpr - fpr))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def roc_frame(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    fpr, tpr, thr = skm.roc_curve(y, p)
    return pl.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thr, 1.0)})


def pr_frame(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    precision, recall, _ = skm.precision_recall_curve(y, p)
    return pl.DataFrame({"recall": recall, "precision": precision})


def calibration_frame(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> pl.DataFrame:
    """Mean predicted vs observed rate per equal-width bin (empty bins dropped)."""
    frame = pl.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    return (
        frame.with_columns(bin=(pl.col("p") * bins).floor().clip(0, bins - 1).cast(pl.Int32))
        .group_by("bin")
        .agg(predicted=pl.col("p").mean(), observed=pl.col("y").mean(), count=pl.len())
        .sort("bin")
    )


def confusion_frame(y: np.ndarray, p: np.ndarray, threshold: float, labels: tuple[str, str]) -> pl.DataFrame:
    """Long-form confusion counts; ``labels`` = (negative name, positive name)."""
    y = np.asarray(y, dtype=int)
    pred = (np.asarray(p) >= threshold).astype(int)
    rows = [
        {"actual": labels[a], "predicted": labels[b], "count": int(np.sum((y == a) & (pred == b)))}
        for a in (0, 1)
        for b in (0, 1)
    ]
    return pl.DataFrame(rows)


def outcomes_frame(y: np.ndarray, predicted: np.ndarray, p: np.ndarray | None = None) -> pl.DataFrame:
    """One row per scored example: true class, decided class and (binary) the positive score;
    the report's bootstrap intervals are drawn from it."""
    columns: dict[str, np.ndarray] = {"y": np.asarray(y, dtype=np.int64),
                                      "predicted": np.asarray(predicted, dtype=np.int64)}
    if p is not None:
        columns["p"] = np.asarray(p, dtype=np.float64)
    return pl.DataFrame(columns)


def bootstrap_intervals(outcomes: pl.DataFrame, *, resamples: int = 200, seed: int = 0,
                        level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap intervals over rows (``outcomes_frame``) for accuracy (as ``acc``
    and ``accuracy``), and for a binary score also AUC, sensitivity and specificity. The same
    seed gives the same intervals."""
    y, decided = outcomes["y"].to_numpy(), outcomes["predicted"].to_numpy()
    p = outcomes["p"].to_numpy() if "p" in outcomes.columns else None
    binary = p is not None and set(np.unique(y).tolist()) <= {0, 1}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"accuracy": [], "auc": [], "sensitivity": [], "specificity": []}
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        ys, ds = y[idx], decided[idx]
        draws["accuracy"].append(float(np.mean(ys == ds)))
        if binary and p is not None:
            positives, negatives = ys == 1, ys == 0
            if positives.any() and negatives.any():
                draws["auc"].append(float(skm.roc_auc_score(ys, p[idx])))
                draws["sensitivity"].append(float(np.mean(ds[positives] == 1)))
                draws["specificity"].append(float(np.mean(ds[negatives] == 0)))
    tail = (1 - level) / 2 * 100
    found = {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for k, v in draws.items() if v}
    if "accuracy" in found:
        found["acc"] = found["accuracy"]
    return found
