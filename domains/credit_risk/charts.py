"""Credit evaluation charts built from a ``Report``'s frames."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from domains.base import Report
from domains.charts import (
    calibration_chart,
    confusion_chart,
    histogram_by_class,
    pr_chart,
    reference_line,
    roc_chart,
    styled,
)
from domains.labels import display_name
from domains.metrics import threshold_metrics


def credit_charts(report: Report) -> dict[str, go.Figure]:
    f = report.frames
    threshold = float(report.info["threshold"])
    scores = f["scores"]
    y, p = scores["y"].to_numpy(), scores["p_bad"].to_numpy()
    at = threshold_metrics(y, p, threshold)
    figures = {
        "ROC": roc_chart(f["roc"], report.metrics["auc"], (1 - at["specificity"], at["sensitivity"])),
        "Precision-recall": pr_chart(f["pr"], float(np.mean(y))),
        "Calibration": calibration_chart(f["calibration"]),
        "Score distribution": histogram_by_class(scores, "p_bad", "class", "Probability of default by actual outcome",
                                                 "credit_risk"),
        "Confusion matrix": confusion_chart(f["confusion"]),
        "Expected cost": cost_chart(f["cost_curve"], threshold),
    }
    if f["fairness"].height:
        figures["Fairness"] = fairness_chart(f["fairness"])
    return figures


def cost_chart(curve: pl.DataFrame, threshold: float) -> go.Figure:
    best = curve.sort("expected_cost").row(0, named=True)
    fig = go.Figure(go.Scatter(x=curve["threshold"], y=curve["expected_cost"], mode="lines", name="expected cost"))
    # The optimum's label sits below the curve's minimum, where the curve never is.
    fig.add_trace(go.Scatter(x=[best["threshold"]], y=[best["expected_cost"]], mode="markers+text",
                             marker={"size": 12, "color": "#d62728"}, name="optimum",
                             text=[f"optimum {best['threshold']:.2f}"], textposition="bottom center"))
    costs = curve["expected_cost"].to_numpy()
    low, high = float(costs.min()), float(costs.max())
    fig.update_yaxes(range=[low - 0.15 * (high - low) - 1e-9, high + 0.05 * (high - low) + 1e-9])
    reference_line(fig, x=threshold, text=f"in use {threshold:.2f}")
    fig.update_xaxes(title="reject if P(bad) >= threshold", range=[0, 1])
    fig.update_yaxes(title="expected cost per applicant")
    return styled(fig, "Expected cost vs threshold")


def fairness_chart(groups: pl.DataFrame) -> go.Figure:
    fig = go.Figure()
    for metric in ("approval_rate", "tpr", "fpr"):
        fig.add_trace(go.Bar(
            x=[f"{display_name(a, 'credit_risk')}: {g}" for a, g in zip(groups["attribute"], groups["group"],
                                                                       strict=True)],
            y=groups[metric], name=display_name(metric, "credit_risk"),
        ))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="rate", range=[0, 1])
    return styled(fig, "Decisions by group (TPR/FPR: rejection of bad/good applicants)")
