"""Live tab: incoming messages in mixed languages are translated in arrival order;
the page shows per-message time to first sentence and total latency, and the
language mix the detector found."""

from __future__ import annotations

import threading
from collections import Counter

import plotly.graph_objects as go
import polars as pl

from domains.monitoring import RecentRows
from domains.translation.charts import language_mix, latency_chart
from domains.translation.languages import name

KEEP = 2000
LATEST = 50
SCHEMA = {"arrival": pl.Int64, "message": pl.String, "translation": pl.String, "pair": pl.String,
          "detected_confidence": pl.Float64, "ttft_ms": pl.Float64, "latency_ms": pl.Float64, "note": pl.String}


class MessageMonitor:
    """Thread-safe: the stream worker calls ``update``; the page reads the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows = RecentRows(KEEP, SCHEMA)
        self._seen = 0
        self._pairs: Counter[str] = Counter()  # the whole stream's language mix, counted as it arrives

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        rows = []
        for i, (message, out) in enumerate(zip(inputs["text"].to_list(), outputs.iter_rows(named=True),
                                                strict=True)):
            pair = f"{name(out['src'])} → {name(out['tgt'])}" if out["translation"] is not None else None
            rows.append({"arrival": self._seen + i + 1, "message": (message or "")[:200],
                         "translation": (out["translation"] or "")[:200], "pair": pair,
                         "detected_confidence": out["detected_confidence"], "ttft_ms": out["ttft_ms"],
                         "latency_ms": out["latency_ms"], "note": out["note"]})
        with self._lock:
            self._rows.add(pl.DataFrame(rows, schema=SCHEMA))
            self._seen += len(rows)
            self._pairs.update(str(row["pair"] or "not translated") for row in rows)

    def _frame(self) -> pl.DataFrame:
        with self._lock:
            return self._rows.frame()

    def charts(self) -> dict[str, go.Figure]:
        frame = self._frame()
        if frame.is_empty():
            return {}
        with self._lock:
            pairs = dict(self._pairs)
        return {"latency": latency_chart(frame.tail(500)), "languages": language_mix(pairs)}

    def alerts(self) -> list[str]:
        frame = self._frame().tail(200)
        notes = []
        failed = frame.filter(pl.col("note").is_not_null()).height
        if failed:
            notes.append(f"{failed} of the last {frame.height} messages were not translated (see the note column).")
        return notes

    def table(self) -> pl.DataFrame:
        frame = self._frame()
        return frame.tail(LATEST).reverse() if not frame.is_empty() else frame
