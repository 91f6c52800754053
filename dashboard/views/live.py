"""Live: replay events at a chosen rate; throughput, latency and domain charts
refresh in place from a fragment while a worker thread scores the stream."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard.errors import guarded
from dashboard.views.common import PageContext, figure_grid, need_model
from domains.base import HasStreamOptions
from domains.live import LiveRun

REFRESH_S = 1.0


def _run_key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-live-run"


def render(ctx: PageContext) -> None:
    predictor = need_model(ctx)
    if predictor is None:
        return
    key = _run_key(ctx)
    run: LiveRun | None = st.session_state.get(key)
    c1, c2, c3 = st.columns(3)
    rate = c1.select_slider("Events per second", [5, 20, 50, 200, 1000, 5000], value=50, key=f"{key}-rate")
    batch = c2.select_slider("Max micro-batch", [1, 16, 64, 256, 1024], value=64, key=f"{key}-batch")
    options = {}
    if isinstance(ctx.domain, HasStreamOptions):
        for field in ctx.domain.stream_fields():
            options[field.name] = c3.checkbox(field.name.replace("_", " "), value=bool(field.default),
                                              help=field.help or None, key=f"{key}-{field.name}")
    start, stop = st.columns(2)
    if start.button("Start", type="primary", disabled=bool(run and run.running), key=f"{key}-start"):
        with guarded("Starting the stream"):
            events = ctx.domain.stream(ctx.data, options=options)
            monitor = ctx.domain.monitor(predictor, ctx.data)
            st.session_state[key] = LiveRun(predictor, monitor, events, rows_per_s=float(rate),
                                            max_batch_rows=int(batch)).start()
    if stop.button("Stop", disabled=not (run and run.running), key=f"{key}-stop") and run is not None:
        stopped = run.stop()
        st.toast("Stream stopped." if stopped else "Stream is stopping...")
    _panel(ctx)


@st.fragment(run_every=REFRESH_S)
def _panel(ctx: PageContext) -> None:
    run: LiveRun | None = st.session_state.get(_run_key(ctx))
    if run is None:
        st.info("Press Start to replay the dataset as a live stream of events.")
        return
    stats = run.summary()
    cols = st.columns(5)
    cols[0].metric("status", "running" if run.running else "stopped")
    cols[1].metric("events scored", f"{int(stats['rows']):,}")
    cols[2].metric("throughput", f"{stats['rows_per_s']:,.0f} /s")
    cols[3].metric("p50 batch latency", f"{stats['p50_ms']:.1f} ms")
    cols[4].metric("p95 batch latency", f"{stats['p95_ms']:.1f} ms")
    if run.error:
        st.error(f"The stream stopped: {run.error}")
    for alert in run.monitor.alerts():
        st.warning(alert, icon=":material/warning:")
    figure_grid(run.monitor.charts(), key="live")
    table = run.monitor.table()
    if not table.is_empty():
        st.dataframe(_highlight_flagged(table), width="stretch", height=320)


def _highlight_flagged(table: pl.DataFrame) -> Any:
    """Rows a monitor marks ``flagged`` (e.g. the triage worklist) stand out."""
    if "flagged" not in table.columns:
        return table
    flagged = table["flagged"].to_list()
    return table.to_pandas().style.apply(
        lambda row: ["background-color: rgba(214, 39, 40, 0.15)" if flagged[row.name] else ""] * len(row), axis=1)
