"""The one labels layer: code names become display names in tables and charts, each quantity
has one number format, and what is already readable is left alone."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from domains.charts import readable_figure
from domains.labels import display_frame, readable


def test_readable_maps_code_names_and_leaves_words_alone() -> None:
    assert readable("approval_rate", "credit_risk") == "Approval rate"
    assert readable("duration_in_month", "credit_risk") == "Duration (months)"
    assert readable("ndcg@10", "recommendations") == "nDCG@10"
    assert readable("dlae", "recommendations").startswith("Denoising linear autoencoder")  # a menu key
    for word in ("negative", "nDCG@10", "Approval rate", "25-34"):
        assert readable(word, "recommendations") == word  # a class, or already readable: twice is once


def test_a_table_gets_display_names_and_one_format_per_quantity() -> None:
    frame = pl.DataFrame({"attribute": ["age_band", "sex"], "group": ["<25", "male"], "n": [30, 40],
                          "approval_rate": [0.41274, 0.5], "auc": [0.7123, 0.8]})
    shown, formats = display_frame(frame, "credit_risk")
    assert shown.columns == ["Attribute", "Group", "Count", "Approval rate", "AUC"]
    assert shown["Attribute"].to_list() == ["Age band", "sex"]  # a name column's code values are named too
    assert shown["Approval rate"].to_list() == [41.274, 50.0]  # shown as a percentage
    assert formats == {"Count": "%d", "Approval rate": "%.1f%%", "AUC": "%.3f"}
    assert formats["Approval rate"] % shown["Approval rate"][0] == "41.3%"
    assert frame["approval_rate"][0] == 0.41274  # the frame itself (downloads) keeps raw values


def test_a_figure_shows_no_code_name_in_legends_ticks_titles_or_hovers() -> None:
    frame = pl.DataFrame({"metric": ["ndcg@10", "map"], "value": [0.4, 0.3], "model": ["dlae", "dlae"]})
    fig = readable_figure(px.bar(frame.to_pandas(), x="metric", y="value", color="model"), "recommendations")
    trace = fig.data[0]
    assert list(trace.x) == ["nDCG@10", "MAP"]
    assert trace.name.startswith("Denoising linear autoencoder")
    assert "Metric=%{x}" in trace.hovertemplate and "dlae" not in trace.hovertemplate
    assert fig.layout.xaxis.title.text == "Metric"
    psi = readable_figure(go.Figure(go.Bar(x=[0.3, 0.1], y=["duration_in_month", "p_bad"], orientation="h")),
                          "credit_risk")
    assert list(psi.data[0].y) == ["Duration (months)", "Probability of default"]
