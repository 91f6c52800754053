"""Generic dataset exploration figures for tabular frames."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from domains.charts import styled
from domains.labels import display_name

MAX_PANELS = 8


def summary(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per column: type, missing share, distinct values, and numeric stats."""
    rows = []
    for name, dtype in frame.schema.items():
        s = frame[name]
        row = {"column": name, "type": str(dtype), "missing": s.null_count() / max(frame.height, 1),
               "distinct": s.n_unique(), "mean": None, "min": None, "max": None}
        if dtype.is_numeric():
            row.update(mean=s.mean(), min=s.min(), max=s.max())
        rows.append(row)
    return pl.DataFrame(rows, schema={"column": pl.String, "type": pl.String, "missing": pl.Float64,
                                      "distinct": pl.Int64, "mean": pl.Float64, "min": pl.Float64,
                                      "max": pl.Float64})


def distributions(frame: pl.DataFrame, target: str | None, domain: str | None = None) -> dict[str, go.Figure]:
    figures: dict[str, go.Figure] = {}
    if target and target in frame.columns:
        counts = frame[target].cast(pl.String).value_counts().sort("count", descending=True)
        balance = go.Figure(go.Bar(x=counts[target], y=counts["count"]))
        balance.update_xaxes(title=display_name(target, domain))
        balance.update_yaxes(title="rows")
        figures[f"Target: {target}"] = styled(balance, f"Class balance of {display_name(target, domain)}", height=300)
    pdf = frame.to_pandas()
    color = target if target in frame.columns else None
    for name in [c for c in frame.columns if c != target][:MAX_PANELS]:
        names = {name: display_name(name, domain), "count": "rows"}
        if frame.schema[name].is_numeric():
            fig = px.histogram(pdf, x=name, color=color, barmode="overlay", nbins=30, opacity=0.7, labels=names)
        else:
            fig = px.histogram(pdf, y=name, color=color, barmode="group", labels=names)
        figures[name] = styled(fig, display_name(name, domain), height=300)
    return figures
