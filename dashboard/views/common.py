"""What every tab of a domain page receives, and small shared widgets."""

from __future__ import annotations

import io
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from domains.base import Domain, DomainData, Predictor
from domains.io import flat_lists


@dataclass
class PageContext:
    domain: Domain
    data: DomainData
    data_id: str
    predictor: Predictor | None
    model_id: str
    model_error: str | None = None


def figure_grid(figures: dict[str, go.Figure], *, key: str, columns: int = 2) -> None:
    items = list(figures.items())
    for start in range(0, len(items), columns):
        cols = st.columns(columns)
        for col, (name, fig) in zip(cols, items[start : start + columns], strict=False):
            col.plotly_chart(fig, width="stretch", key=f"{key}-{name}")


def download_buttons(frame: pl.DataFrame, stem: str, *, key: str) -> None:
    left, right = st.columns(2)
    csv = flat_lists(frame).write_csv().encode()
    left.download_button("Download CSV", csv, f"{stem}.csv", "text/csv", key=f"{key}-csv")
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    right.download_button("Download Parquet", buffer.getvalue(), f"{stem}.parquet",
                          "application/octet-stream", key=f"{key}-parquet")


def need_model(ctx: PageContext) -> Predictor | None:
    if ctx.predictor is None:
        st.warning(ctx.model_error or "No model is loaded. Train one in the Train tab.")
    return ctx.predictor
