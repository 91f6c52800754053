"""Live replay of ratings in timestamp order: each event's user is folded in with the
history they had at that moment; we track whether the rated item was already in their
top-10 (an online hit rate) and show their refreshed recommendations."""

from __future__ import annotations

import threading
from collections import Counter, deque

import plotly.graph_objects as go
import polars as pl

from domains.charts import live_figure
from domains.monitoring import Curve
from domains.recommendations.predict import RecPredictor

WINDOW = 500


class RecMonitor:
    def __init__(self, predictor: RecPredictor, window: int = WINDOW) -> None:
        self.predictor = predictor
        self._lock = threading.Lock()
        self._hits: deque[bool] = deque(maxlen=window)
        self._curve: Curve[tuple[int, float, float]] = Curve()  # (events, rolling hit rate, cumulative)
        self._recent: deque[dict[str, object]] = deque(maxlen=50)
        self._recommended: Counter[str] = Counter()
        self._seen = self._total_hits = 0

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        with self._lock:
            for event, rec in zip(inputs.iter_rows(named=True), outputs.iter_rows(named=True), strict=True):
                hit = str(event["item"]) in rec["items"]
                self._hits.append(hit)
                self._seen += 1
                self._total_hits += hit
                self._recommended.update(rec["titles"][:3])
                self._recent.appendleft({"user": event["user"], "rated": self.predictor.catalog.label(
                    self.predictor.item_index[str(event["item"])]) if str(event["item"]) in self.predictor.item_index
                    else str(event["item"]), "rating": event.get("rating"), "was in top-10": hit,
                    "new top-3": " · ".join(rec["titles"][:3])})
            self._curve.add((self._seen, sum(self._hits) / len(self._hits), self._total_hits / self._seen))

    def charts(self) -> dict[str, go.Figure]:
        with self._lock:
            curve = self._curve.points()
            top = self._recommended.most_common(10)
        line = live_figure([
            go.Scatter(x=[c[0] for c in curve], y=[c[1] for c in curve], name=f"last {self._hits.maxlen}"),
            go.Scatter(x=[c[0] for c in curve], y=[c[2] for c in curve], name="since start"),
        ], "Online hit rate: rated item was in the user's top-10", x={"title": "events"})
        bars = live_figure(go.Bar(x=[n for _, n in top], y=[t for t, _ in top], orientation="h"),
                           "Most recommended right now (top-3 slots)", y={"autorange": "reversed"})
        return {"hit_rate": line, "recommended": bars}

    def alerts(self) -> list[str]:
        return []

    def table(self) -> pl.DataFrame:
        with self._lock:
            return pl.DataFrame(list(self._recent)) if self._recent else pl.DataFrame()
