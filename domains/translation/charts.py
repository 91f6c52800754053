"""Translation figures: corpus overview, per-sentence chrF and length ratios, and the
alignment of source and translated sentences."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from domains.base import Report
from domains.charts import live_figure, reference_line, styled


def _words(column: str) -> pl.Expr:
    return pl.col(column).fill_null("").str.split(" ").list.len().alias(f"{column}_words")


def length_overview(frame: pl.DataFrame) -> go.Figure:
    sample = frame.select(_words("source"), _words("reference")).head(20_000)
    long = sample.unpivot(variable_name="side", value_name="words")
    fig = px.histogram(long.to_pandas(), x="words", color="side", barmode="overlay", nbins=60, opacity=0.6)
    return styled(fig, "Sentence length (words)")


def length_pairs(frame: pl.DataFrame) -> go.Figure:
    sample = frame.filter(pl.col("reference").is_not_null()).select(_words("source"), _words("reference"))
    sample = sample.sample(min(sample.height, 3000), seed=0) if sample.height else sample
    fig = px.scatter(sample.to_pandas(), x="source_words", y="reference_words", opacity=0.35)
    fig.update_xaxes(title="source words")
    fig.update_yaxes(title="reference words")
    return styled(fig, "Source vs reference length")


def split_sizes(frame: pl.DataFrame) -> go.Figure:
    counts = frame.group_by("split").len().sort("split")
    fig = go.Figure(go.Bar(x=counts["split"], y=counts["len"], text=counts["len"], textposition="auto"))
    fig.update_yaxes(title="sentence pairs")
    return styled(fig, "Pairs per split", height=300)


def evaluation_charts(report: Report) -> dict[str, go.Figure]:
    sentences = report.frames["sentences"]
    pair = report.info.get("pair", "")
    hist = px.histogram(sentences.to_pandas(), x="chrf", nbins=40)
    corpus = report.metrics["chrf"]
    reference_line(hist, x=corpus, dash="dash", text=f"corpus chrF {corpus:.1f}")
    hist.update_xaxes(title="sentence chrF", range=[0, 100])
    ratio = px.histogram(sentences.to_pandas(), x="length_ratio", nbins=40)
    reference_line(ratio, x=1.0)
    ratio.update_xaxes(title="translation words / reference words")
    with_len = sentences.with_columns(_words("source"))
    scatter = px.scatter(with_len.to_pandas(), x="source_words", y="chrf", opacity=0.4,
                         hover_data={"id": True})
    scatter.update_yaxes(range=[0, 100])
    return {"chrf": styled(hist, f"Per-sentence chrF ({pair})"),
            "length_ratio": styled(ratio, "Length ratio per sentence"),
            "chrf_by_length": styled(scatter, "chrF by source length")}


def latency_chart(frame: pl.DataFrame, window: int = 15) -> go.Figure:
    """Each message as a faint point, and the rolling median over ``window`` messages as the
    line to read (one message's latency swings with its length; the trend is what matters)."""
    traces = []
    for column, name, colour in (("ttft_ms", "time to first sentence", "#1f77b4"), ("latency_ms", "total", "#ff7f0e")):
        traces.append(go.Scatter(x=frame["arrival"], y=frame[column], mode="markers", name=f"{name} (each message)",
                                 marker={"size": 4, "color": colour, "opacity": 0.35}, showlegend=False))
        trend = frame[column].rolling_median(window_size=window, min_samples=1)
        traces.append(go.Scatter(x=frame["arrival"], y=trend, mode="lines", name=f"{name}, median of {window}",
                                 line={"color": colour, "width": 2.5}))
    return live_figure(traces, "Latency per message", x={"title": "message (arrival order)"},
                       y={"title": "milliseconds"})


def language_mix(counts: Mapping[str, int]) -> go.Figure:
    """Messages per detected language pair (or "not translated"), fewest first."""
    pairs = sorted(counts, key=lambda pair: counts[pair])
    sizes = [counts[pair] for pair in pairs]
    return live_figure(go.Bar(x=sizes, y=pairs, orientation="h", text=sizes, textposition="auto"),
                       "Language mix (detected, every message so far)", height=300, x={"title": "messages"})
