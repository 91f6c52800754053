"""Plotly figures for recommendations: metric comparison, recall@k, popularity bias,
the item embedding map and a user's ratings histogram."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from domains.base import Report
from domains.charts import styled


def rec_charts(report: Report) -> dict[str, go.Figure]:
    figures: dict[str, go.Figure] = {}
    if "comparison" in report.frames:
        comp = report.frames["comparison"]
        fig = px.bar(comp.to_pandas(), x="metric", y="value", color="model", barmode="group")
        # Values above the bars, level and readable (inside, plotly shrinks and rotates them to fit).
        fig.update_traces(texttemplate="%{y:.3f}", textposition="outside", textangle=0, cliponaxis=False)
        fig.update_layout(uniformtext={"minsize": 11, "mode": "show"}, legend={"orientation": "h", "y": -0.2})
        figures["comparison"] = styled(fig, "Top-10 metrics vs the best published MovieLens-100K rows")
    if "recall_curve" in report.frames:
        curve = report.frames["recall_curve"]
        fig = go.Figure([go.Scatter(x=curve["k"].to_list(), y=curve["recall"].to_list(), mode="lines+markers",
                                    name="recall@k"),
                         go.Scatter(x=curve["k"].to_list(), y=curve["precision"].to_list(), mode="lines+markers",
                                    name="precision@k")])
        ks = curve["k"].to_list()  # log axis, ticked at the k values measured (plotly's log ticks read 1 2 5 10 2 5)
        fig.update_xaxes(title="k (list length)", type="log", tickvals=ks, ticktext=[str(k) for k in ks])
        figures["recall_curve"] = styled(fig, "Recall and precision at k")
    if "popularity" in report.frames:
        pop = report.frames["popularity"]
        fig = go.Figure([
            go.Bar(x=pop["popularity_decile"].to_list(), y=pop["share_of_recommendations"].to_list(),
                   name="share of recommendations"),
            go.Bar(x=pop["popularity_decile"].to_list(), y=pop["share_of_catalogue"].to_list(),
                   name="share of catalogue"),
        ])
        fig.update_xaxes(title="items by training popularity")
        figures["popularity_bias"] = styled(fig, "Popularity bias: where recommendations come from")
    return figures


def ratings_histogram(ratings: pl.Series) -> go.Figure:
    counts = ratings.value_counts().sort(ratings.name)
    fig = go.Figure(go.Bar(x=counts[ratings.name].to_list(), y=counts["count"].to_list()))
    fig.update_xaxes(title="rating")
    return styled(fig, "Ratings given", height=280)


def genre_chart(genres: pl.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(x=genres["count"].to_list(), y=genres["genre"].to_list(), orientation="h"))
    fig.update_yaxes(autorange="reversed")
    return styled(fig, "Favourite genres", height=280)
