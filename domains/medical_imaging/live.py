"""The live triage worklist: studies arrive, are scored on arrival, and the list stays
sorted by risk with the cases above the threshold flagged for review first."""

from __future__ import annotations

import threading

import plotly.graph_objects as go
import polars as pl

from domains.charts import live_figure
from domains.medical_imaging.predict import ImagePredictor
from domains.monitoring import Curve

WORKLIST = 50  # rows shown
KEEP = 5000  # studies kept (the latest arrivals, one row per study): memory and refresh stay flat
FLAG = "⚑ review first"


class TriageMonitor:
    """Thread-safe: the stream worker calls ``update``; the page reads the rest."""

    def __init__(self, predictor: ImagePredictor) -> None:
        self.predictor = predictor
        self._lock = threading.Lock()
        self._cases = pl.DataFrame()  # the latest row of each of the last KEEP studies
        self._timeline: Curve[tuple[int, int]] = Curve()  # (studies so far, flagged so far)
        self._seen = 0
        self._flagged = 0

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        case = pl.DataFrame({
            "arrival": pl.int_range(self._seen, self._seen + inputs.height, eager=True),
            "study": inputs["id"],
            "risk": outputs["score"],
            "prediction": outputs["prediction"],
            "flagged": outputs["flagged"],
            "truth": _truth(inputs, self.predictor),
        })
        with self._lock:
            # A study that arrives again (the replay loops) replaces its earlier entry.
            cases = pl.concat([self._cases, case], how="vertical_relaxed") if self._cases.height else case
            self._cases = cases.unique("study", keep="last", maintain_order=True).tail(KEEP)
            self._seen += case.height
            self._flagged += int(case["flagged"].sum())
            self._timeline.add((self._seen, self._flagged))

    def worklist(self) -> pl.DataFrame:
        with self._lock:
            cases = self._cases
        if cases.is_empty():
            return cases
        return cases.sort(["flagged", "risk"], descending=True)

    def table(self) -> pl.DataFrame:
        worklist = self.worklist()
        if worklist.is_empty():
            return worklist
        return worklist.head(WORKLIST).with_columns(
            pl.when(pl.col("flagged")).then(pl.lit(FLAG)).otherwise(pl.lit("")).alias("status"),
        ).select("status", "study", "risk", "prediction", "truth", "arrival", "flagged")

    def alerts(self) -> list[str]:
        with self._lock:
            flagged = self._flagged
        if not flagged or not self.predictor.binary:
            return []
        label = self.predictor.labels[self.predictor.positive or 0]
        return [f"{flagged} studies scored P({label}) >= {self.predictor.threshold:.2f}: they head the worklist."]

    def charts(self) -> dict[str, go.Figure]:
        worklist = self.worklist()
        with self._lock:
            timeline = self._timeline.points()
        figures: dict[str, go.Figure] = {}
        if timeline:
            xs, ys = zip(*timeline, strict=True)
            figures["Flagged"] = live_figure(
                go.Scatter(x=xs, y=ys, mode="lines", name="flagged"), "Flagged studies over the stream", height=300,
                x={"title": "studies arrived"}, y={"title": "flagged so far"})
        if not worklist.is_empty():
            figures["Risk"] = live_figure(
                go.Histogram(x=worklist["risk"], nbinsx=30, marker_color="#1f77b4"),
                f"Risk of the latest {worklist.height:,} studies", height=300,
                x={"title": "risk score", "range": [0, 1]},
                lines=[{"x": self.predictor.threshold, "text": "threshold"}] if self.predictor.binary else [])
        return figures


def _truth(inputs: pl.DataFrame, predictor: ImagePredictor) -> pl.Series:
    names = list(predictor.labels)
    return inputs["label"].map_elements(lambda i: names[i] if 0 <= i < len(names) else "", return_dtype=pl.String)
