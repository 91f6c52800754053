"""Live monitoring of a stream of credit applications: decisions, rolling approval
rate, score distribution and PSI drift against the training population."""

from __future__ import annotations

import threading

import numpy as np
import plotly.graph_objects as go
import polars as pl

from domains.charts import live_figure
from domains.credit_risk.drift import ALERT_PSI, psi_table
from domains.credit_risk.predict import CreditPredictor
from domains.labels import display_name
from domains.monitoring import Curve, RecentRows

WINDOW = 500  # rows in the rolling window used for PSI and the score histogram
MIN_ROWS_FOR_PSI = 100


class CreditMonitor:
    """Thread-safe: the stream worker calls ``update``; the page reads the rest."""

    def __init__(self, predictor: CreditPredictor, window: int = WINDOW) -> None:
        self.predictor = predictor
        self.window = window
        self._lock = threading.Lock()
        self._recent = RecentRows(window)
        self._approval: Curve[tuple[int, float]] = Curve()  # (rows so far, rolling approval rate)
        self._seen = 0
        self._psi = pl.DataFrame(schema={"feature": pl.String, "psi": pl.Float64})

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        joined = pl.concat([inputs, outputs], how="horizontal")
        with self._lock:
            self._recent.add(joined)
            self._seen += joined.height
            window = self._recent.frame()
            approved = float((window["decision"] == "approve").to_numpy().mean())
            self._approval.add((self._seen, approved))
            if window.height >= MIN_ROWS_FOR_PSI and self.predictor.reference:
                conformed = self.predictor.schema.conform(window)
                self._psi = psi_table(self.predictor.reference, conformed, window["p_bad"].to_numpy())

    def _window(self) -> pl.DataFrame:
        with self._lock:
            return self._recent.frame()

    def table(self) -> pl.DataFrame:
        window = self._window()
        if window.is_empty():
            return window
        first = [c for c in ("decision", "p_bad", "score") if c in window.columns]
        return window.tail(50).select(first + [c for c in window.columns if c not in first]).reverse()

    def alerts(self) -> list[str]:
        with self._lock:
            psi = self._psi
        drifted = psi.filter(pl.col("psi") > ALERT_PSI)
        return [
            f"Drift: the population stability (PSI) of {display_name(row['feature'], 'credit_risk')} is "
            f"{row['psi']:.2f} (> {ALERT_PSI}) against the training data."
            for row in drifted.iter_rows(named=True)
        ]

    def charts(self) -> dict[str, go.Figure]:
        window = self._window()
        with self._lock:
            approval = self._approval.points()
            psi = self._psi
        figures: dict[str, go.Figure] = {}
        if approval:
            xs, ys = zip(*approval, strict=True)
            figures["Approval rate"] = live_figure(
                go.Scatter(x=xs, y=ys, mode="lines", name="approval rate"), "Rolling approval rate", height=300,
                x={"title": "applications scored"}, y={"title": f"approval rate (last {self.window})", "range": [0, 1]})
        if not window.is_empty():
            figures["Scores"] = live_figure(
                go.Histogram(x=window["p_bad"], nbinsx=30, marker_color="#1f77b4"),
                "Score distribution (rolling window)", height=300, x={"title": "P(bad)", "range": [0, 1]},
                lines=[{"x": self.predictor.threshold, "text": "threshold"}])
        if psi.height:
            colors = np.where(psi["psi"].to_numpy() > ALERT_PSI, "#d62728", "#7f7f7f")
            figures["Drift (PSI)"] = live_figure(
                go.Bar(x=psi["psi"], y=psi["feature"], orientation="h", marker_color=colors),
                "Population stability vs training", height=140 + 18 * psi.height, y={"autorange": "reversed"},
                lines=[{"x": ALERT_PSI, "dash": "dash", "color": "#d62728", "text": "alert 0.25"}])
        return figures
