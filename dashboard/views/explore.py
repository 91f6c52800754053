from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.views.common import PageContext, data_title, figure_grid, table
from domains.explore import summary
from domains.labels import display_name


def render(ctx: PageContext) -> None:
    data = ctx.data
    st.caption(f"{data_title(ctx)}: {data.frame.height:,} rows x {data.frame.width} columns"
               + (f"; target: {display_name(data.target, ctx.domain.key)}" if data.target else ""))
    for note in data.info.get("notes", []):
        st.info(note)
    table(data.frame.head(200), ctx.domain.key, height=260)
    with st.expander("Summary statistics", expanded=True):
        table(summary(data.frame), ctx.domain.key)
    figure_grid(resources.explore_figures(ctx.domain.key, ctx.data_id, data), key="explore", domain=ctx.domain.key)
