"""Live monitoring of a stream of credit applications: decisions, rolling approval
rate, score distribution and PSI drift against the training population."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import plotly.graph_objects as go
import polars as pl

from domains.charts import live_figure, reference_line, styled
from domains.credit_risk.drift import ALERT_PSI, psi_table
from domains.credit_risk.predict import CreditPredictor
from domains.labels import display_name
from domains.monitoring import Curve

WINDOW = 500  # rows in the rolling window used for PSI and the score histogram
MIN_ROWS_FOR_PSI = 100


class CreditMonitor:
    """Thread-safe: the stream worker calls ``update``; the page reads the rest."""

    def __init__(self, predictor: CreditPredictor, window: int = WINDOW) -> None:
        self.predictor = predictor
        self.window = window
        self._lock = threading.Lock()
        self._recent: deque[pl.DataFrame] = deque()
        self._recent_rows = 0
        self._approval: Curve[tuple[int, float]] = Curve()  # (rows so far, rolling approval rate)
        self._seen = 0
        self._psi = pl.DataFrame(schema={"feature": pl.String, "psi": pl.Float64})

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        joined = pl.concat([inputs, outputs], how="horizontal")
        with self._lock:
            self._recent.append(joined)
            self._recent_rows += joined.height
            while self._recent_rows - self._recent[0].height >= self.window:
                self._recent_rows -= self._recent.popleft().height
            self._seen += joined.height
            window = pl.concat(list(self._recent), how="vertical_relaxed")
            approved = float((window["decision"] == "approve").to_numpy().mean())
            self._approval.add((self._seen, approved))
            if window.height >= MIN_ROWS_FOR_PSI and self.predictor.reference:
                conformed = self.predictor.schema.conform(window)
                self._psi = psi_table(self.predictor.reference, conformed, window["p_bad"].to_numpy())

    def _window(self) -> pl.DataFrame:
        with self._lock:
            return pl.concat(list(self._recent), how="vertical_relaxed") if self._recent else pl.DataFrame()

    def table(self) -> pl.DataFrame:
        window = self._window()
        if window.is_empty():
            return window
        first = [c for c in ("decision", "p_bad", "score") if c in window.columns]
        return window.select(first + [c for c in window.columns if c not in first]).reverse().head(50)

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
            fig = live_figure(go.Scatter(x=xs, y=ys, mode="lines", name="approval rate"))
            fig.update_xaxes(title="applications scored")
            fig.update_yaxes(title=f"approval rate (last {self.window})", range=[0, 1])
            figures["Approval rate"] = styled(fig, "Rolling approval rate", height=300)
        if not window.is_empty():
            fig = live_figure(go.Histogram(x=window["p_bad"], nbinsx=30, marker_color="#1f77b4"))
            reference_line(fig, x=self.predictor.threshold, text="threshold")
            fig.update_xaxes(title="P(bad)", range=[0, 1])
            figures["Scores"] = styled(fig, "Score distribution (rolling window)", height=300)
        if psi.height:
            colors = np.where(psi["psi"].to_numpy() > ALERT_PSI, "#d62728", "#7f7f7f")
            fig = live_figure(go.Bar(x=psi["psi"], y=psi["feature"], orientation="h", marker_color=colors))
            reference_line(fig, x=ALERT_PSI, dash="dash", color="#d62728", text="alert 0.25")
            fig.update_yaxes(autorange="reversed")
            figures["Drift (PSI)"] = styled(fig, "Population stability vs training", height=140 + 18 * psi.height)
        return figures
