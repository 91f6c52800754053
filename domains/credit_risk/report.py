"""Build the evaluation ``Report`` for credit predictions (train, CV and evaluate share it)."""

from __future__ import annotations

import numpy as np
import polars as pl

from domains.base import Report
from domains.credit_risk.decision import Costs, cost_curve, expected_cost, optimal_threshold
from domains.credit_risk.fairness import fairness_frames, sensitive_attributes
from domains.metrics import (
    binary_metrics,
    calibration_frame,
    confusion_frame,
    outcomes_frame,
    pr_frame,
    roc_frame,
    threshold_metrics,
)


def build_report(
    y: np.ndarray,
    p: np.ndarray,
    *,
    threshold: float,
    costs: Costs,
    frame: pl.DataFrame,
    labels: tuple[str, str],
) -> Report:
    """Metrics at ``threshold`` plus every frame the credit charts draw."""
    metrics = binary_metrics(y, p)
    at = threshold_metrics(y, p, threshold)
    metrics.update(
        acc=at["acc"],
        approval_rate=1.0 - at["flag_rate"],
        bad_rate_approved=float(np.mean(y[p < threshold])) if np.any(p < threshold) else 0.0,
        expected_cost=expected_cost(y, p, threshold, costs),
        threshold=threshold,
        optimal_threshold=optimal_threshold(y, p, costs),
    )
    groups, ratios = fairness_frames(y, p, threshold, sensitive_attributes(frame))
    scores = pl.DataFrame({"y": y, "p_bad": p, "class": np.where(y == 1, labels[1], labels[0])})
    return Report(
        metrics=metrics,
        frames={
            "scores": scores,
            "outcomes": outcomes_frame(y, (p >= threshold).astype(int), p),
            "roc": roc_frame(y, p),
            "pr": pr_frame(y, p),
            "calibration": calibration_frame(y, p),
            "confusion": confusion_frame(y, p, threshold, (f"{labels[0]} (approve)", f"{labels[1]} (reject)")),
            "cost_curve": cost_curve(y, p, costs),
            "fairness": groups,
            "fairness_ratios": ratios,
        },
        info={"threshold": threshold, "costs": costs, "rows": len(y), "labels": labels},
        headline=("auc", "gini", "ks", "brier", "log_loss", "ece", "acc", "approval_rate", "expected_cost"),
        tables={"fairness": "Fairness by group", "fairness_ratios": "Disparity ratios (min/max)"},
        notes=(_accuracy_in_words(y, p, threshold, costs),),
    )


def _accuracy_in_words(y: np.ndarray, p: np.ndarray, threshold: float, costs: Costs) -> str:
    """Why accuracy sits low beside a good AUC: the threshold trades right calls for cost."""
    at, half = threshold_metrics(y, p, threshold), threshold_metrics(y, p, 0.5)
    why = (f"A threshold this low is chosen on purpose: lending to an applicant who defaults costs "
           f"{costs.accept_bad:g}x as much as turning a good one away, so it rejects more good applicants to miss "
           "fewer defaults. " if threshold < 0.5 else "")
    return (f"Accuracy {at['acc']:.1%} is the share of applicants decided right when everyone with a default "
            f"probability of {threshold:.0%} or more is rejected ({at['flag_rate']:.0%} of them here). {why}At "
            f"0.50 accuracy would be {half['acc']:.1%}, rejecting {half['flag_rate']:.0%}, at an expected cost of "
            f"{expected_cost(y, p, 0.5, costs):.3f} per applicant against {expected_cost(y, p, threshold, costs):.3f} "
            f"here. AUC ({binary_metrics(y, p)['auc']:.3f}) does not depend on the threshold.")
