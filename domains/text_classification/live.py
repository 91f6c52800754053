"""The live feed monitor: texts arrive, are classified in micro-batches, and the page
shows the rolling class mix, the confidence distribution and the latest texts."""

from __future__ import annotations

import threading

import plotly.graph_objects as go
import polars as pl

from domains.charts import live_figure
from domains.monitoring import Curve, RecentRows

WINDOW = 200  # texts in the rolling class mix
KEEP = 2000  # texts kept for the confidence histogram and the table
SCHEMA = {"arrival": pl.Int64, "text": pl.String, "prediction": pl.String, "confidence": pl.Float64,
          "truth": pl.String}
LATEST = 50  # rows in the table
LOW_CONFIDENCE = 0.6


class FeedMonitor:
    """Thread-safe: the stream worker calls ``update``; the page reads the rest."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self._lock = threading.Lock()
        self._recent = RecentRows(KEEP, SCHEMA)
        self._mix: Curve[dict[str, object]] = Curve(300)  # rolling share per class, over the stream
        self._seen = 0
        self._correct = 0
        self._labelled = 0

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        truth = inputs["label"].to_list() if "label" in inputs.columns else [None] * inputs.height
        predictions = outputs["prediction"].to_list()
        with self._lock:
            batch = pl.DataFrame({"arrival": range(self._seen, self._seen + inputs.height),
                                  "text": inputs["text"].fill_null("").str.slice(0, 160),
                                  "prediction": predictions, "confidence": outputs["confidence"], "truth": truth},
                                 schema=SCHEMA)
            self._recent.add(batch)
            self._seen += batch.height
            for p, y in zip(predictions, truth, strict=True):
                if y is not None and p is not None:
                    self._labelled += 1
                    self._correct += int(y == p)
            window = self._recent.frame().tail(WINDOW)["prediction"].to_list()
            shares = {label: sum(p == label for p in window) / max(len(window), 1) for label in self.labels}
            self._mix.add({"texts": self._seen, **shares})

    def _frame(self) -> pl.DataFrame:
        with self._lock:
            return self._recent.frame()

    def charts(self) -> dict[str, go.Figure]:
        with self._lock:
            mix = pl.DataFrame(self._mix.points()) if len(self._mix) else pl.DataFrame()
        recent = self._frame()
        figures: dict[str, go.Figure] = {}
        if not mix.is_empty():
            # Stacked areas, one per class (what px.area draws, without its pandas round trip).
            figures["mix"] = live_figure(
                [go.Scatter(x=mix["texts"], y=mix[label], name=label, mode="lines", stackgroup="mix")
                 for label in mix.columns if label != "texts"],
                "Rolling class mix", x={"title": "texts"},
                y={"range": [0, 1], "title": f"share of the last {WINDOW} texts"})
        if not recent.is_empty():
            scored = recent.drop_nulls("confidence")
            figures["confidence"] = live_figure(
                [go.Histogram(x=group["confidence"], name=str(label), opacity=0.6,
                              xbins={"start": 0, "end": 1, "size": 0.04})
                 for (label,), group in scored.group_by("prediction", maintain_order=True)],
                "Confidence (latest 2,000 texts)", x={"range": [0, 1], "title": "confidence"},
                barmode="overlay", legend={"title": {"text": "prediction"}})
        return figures

    def alerts(self) -> list[str]:
        recent = self._frame().tail(WINDOW)
        if recent.height < 20:
            return []
        low = float((recent["confidence"].fill_null(0).to_numpy() < LOW_CONFIDENCE).mean())
        notes = []
        if low > 0.3:
            notes.append(f"{low:.0%} of the last {recent.height} texts were classified with confidence under "
                         f"{LOW_CONFIDENCE:.0%}: the feed may have drifted from the training data.")
        with self._lock:
            if self._labelled >= 50:
                accuracy = self._correct / self._labelled
                if accuracy < 0.7:
                    notes.append(f"Accuracy on the labelled feed so far is {accuracy:.0%}.")
        return notes

    def table(self) -> pl.DataFrame:
        recent = self._frame()
        return recent.tail(LATEST).reverse() if not recent.is_empty() else recent

    def accuracy(self) -> float | None:
        with self._lock:
            return self._correct / self._labelled if self._labelled else None
