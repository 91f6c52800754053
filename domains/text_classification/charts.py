"""Plotly figures for text classification: dataset overview, evaluation, word
attributions and model comparison. Attribution HTML escapes every piece of user text."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from domains.base import Report
from domains.charts import calibration_chart, confusion_chart, styled

WORD = re.compile(r"(?u)\b[^\W\d_]{3,}\b")
STOPWORDS = frozenset([
    "the", "and", "for", "that", "with", "this", "from", "are", "was", "were", "its", "his", "her", "their",
    "they", "them", "you", "your", "but", "not", "have", "has", "had", "all", "one", "out", "who", "what",
    "when", "which", "will", "would", "been", "more", "than", "into", "about", "there", "also", "just", "can",
    "its", "it's", "said", "says", "film", "movie",
])


def class_balance(frame: pl.DataFrame) -> go.Figure:
    counts = frame.filter(pl.col("label").is_not_null()).group_by("label", "split").len().sort("label", "split")
    fig = px.bar(counts.to_pandas(), x="label", y="len", color="split", barmode="stack",
                 labels={"len": "texts", "label": "class"})
    return styled(fig, "Classes by split")


def length_histogram(frame: pl.DataFrame) -> go.Figure:
    words = frame.select(pl.col("label").fill_null("(unlabelled)"),
                         pl.col("text").str.count_matches(r"\S+").alias("words"))
    cap = float(np.percentile(words["words"].to_numpy(), 99)) if words.height else 0.0
    fig = px.histogram(words.filter(pl.col("words") <= cap).to_pandas(), x="words", color="label",
                       barmode="overlay", nbins=50, opacity=0.6)
    return styled(fig, "Text length (words, up to the 99th percentile)")


def distinctive_words(frame: pl.DataFrame, per_class: int = 10) -> go.Figure:
    """Words most over-represented in each class (smoothed log-odds against the rest)."""
    rows = frame.filter(pl.col("label").is_not_null()).head(20_000)
    counts: dict[str, Counter[str]] = {}
    for text, label in zip(rows["text"].to_list(), rows["label"].to_list(), strict=True):
        counts.setdefault(label, Counter()).update(w for w in WORD.findall(text.lower()) if w not in STOPWORDS)
    total: Counter[str] = sum(counts.values(), Counter())
    n_total = sum(total.values())
    records = []
    for label, counter in sorted(counts.items()):
        n_label = sum(counter.values())
        scored = []
        for word, k in counter.items():
            if total[word] < 5:
                continue
            rest = total[word] - k
            scored.append((np.log((k + 1) / (n_label + 1)) - np.log((rest + 1) / (n_total - n_label + 1)), word))
        for score, word in sorted(scored, reverse=True)[:per_class]:
            records.append({"class": label, "word": word, "log_odds": float(score)})
    table = pl.DataFrame(records, schema={"class": pl.String, "word": pl.String, "log_odds": pl.Float64})
    # Each facet has its own words on its y axis: the gap between facets must hold those labels,
    # or one class's words are drawn over its neighbour's bars.
    fig = px.bar(table.to_pandas(), x="log_odds", y="word", color="class", orientation="h",
                 facet_col="class", facet_col_wrap=3, facet_col_spacing=0.16, facet_row_spacing=0.12,
                 labels={"log_odds": "log-odds vs other classes", "word": ""})
    fig.update_yaxes(matches=None, showticklabels=True, autorange="reversed")
    fig.update_layout(showlegend=False)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return styled(fig, "Most distinctive words per class", height=160 + 220 * ((len(counts) + 2) // 3))


def per_class_chart(per_class: pl.DataFrame) -> go.Figure:
    long = per_class.select("class", "precision", "recall", "f1").unpivot(index="class", variable_name="metric")
    fig = px.bar(long.to_pandas(), x="class", y="value", color="metric", barmode="group")
    fig.update_yaxes(range=[0, 1.02])
    return styled(fig, "Precision, recall and F1 per class")


def confidence_histogram(confidence: pl.DataFrame) -> go.Figure:
    fig = px.histogram(confidence.to_pandas(), x="confidence", color="outcome", barmode="overlay", nbins=30,
                       opacity=0.65, color_discrete_map={"correct": "#2ca02c", "wrong": "#d62728"})
    fig.update_xaxes(range=[0, 1])
    return styled(fig, "Confidence of right and wrong predictions")


def text_charts(report: Report) -> dict[str, go.Figure]:
    f = report.frames
    return {"confusion": confusion_chart(f["confusion"]), "per_class": per_class_chart(f["per_class"]),
            "calibration": calibration_chart(f["calibration"]), "confidence": confidence_histogram(f["confidence"])}


def comparison_chart(table: pl.DataFrame) -> go.Figure:
    """Accuracy against scoring speed: the trade-off a deployment has to pick from."""
    fig = px.scatter(table.to_pandas(), x="texts_per_s", y="accuracy", text="model", size="macro_f1",
                     log_x=True, hover_data=["macro_f1", "ece"])
    fig.update_traces(textposition="top center")
    fig.update_xaxes(title="texts per second (log)")
    return styled(fig, "Accuracy vs speed on the same split")
