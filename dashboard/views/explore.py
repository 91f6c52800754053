from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.views.common import PageContext, figure_grid, labelled
from domains.explore import summary


def render(ctx: PageContext) -> None:
    data = ctx.data
    st.caption(f"{data.name}: {data.frame.height:,} rows x {data.frame.width} columns"
               + (f"; target '{data.target}'" if data.target else ""))
    for note in data.info.get("notes", []):
        st.info(note)
    st.dataframe(labelled(data.frame.head(200), ctx.domain.key), width="stretch", height=260)
    with st.expander("Summary statistics", expanded=True):
        st.dataframe(labelled(summary(data.frame)), width="stretch", hide_index=True)
    figure_grid(resources.explore_figures(ctx.domain.key, ctx.data_id, data), key="explore")
