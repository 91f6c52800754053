"""What every tab of a domain page receives, and small shared widgets."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard.state import kept, short_id
from domains.base import Domain, DomainData, FieldSpec, Predictor
from domains.capabilities import Thresholded
from domains.charts import readable_figure
from domains.io import flat_lists
from domains.labels import display_frame, display_name
from domains.report import data_title as dataset_title
from domains.server import job_registry
from models.jobs import ACTIVE, Job, JobRecord


@dataclass
class PageContext:
    domain: Domain
    data: DomainData
    data_id: str
    predictor: Predictor | None
    model_id: str
    model_error: str | None = None
    preparing: Job[Predictor] | None = None  # the default model's background fit, while it runs
    prepare_failed: bool = False
    stored: Predictor | None = None  # the model as loaded, before the user's threshold (``predictor``)


def data_title(ctx: PageContext) -> str:
    """The dataset as the data picker names it ("German Credit (UCI, 1,000 applicants)"); an
    uploaded file by its file name."""
    return dataset_title(ctx.domain, ctx.data)


def chart(fig: go.Figure, *, key: str, domain: str | None = None, where: Any = st) -> None:
    """Draw a figure with every code name in it shown by its display name (``readable_figure``)."""
    where.plotly_chart(readable_figure(fig, domain), width="stretch", key=key)


def figure_grid(figures: dict[str, go.Figure], *, key: str, columns: int = 2, domain: str | None = None) -> None:
    """Figures two to a row; one that asks for the width (``layout.meta["wide"]``, e.g. an image
    gallery) gets a row of its own."""
    items = [(n, f) for n, f in figures.items() if not _wide(f)]
    for start in range(0, len(items), columns):
        cols = st.columns(columns)
        for col, (name, fig) in zip(cols, items[start : start + columns], strict=False):
            chart(fig, key=f"{key}-{name}", domain=domain, where=col)
    for name, fig in figures.items():
        if _wide(fig):
            chart(fig, key=f"{key}-{name}", domain=domain)


def _wide(fig: go.Figure) -> bool:
    meta = fig.layout.meta
    return isinstance(meta, dict) and bool(meta.get("wide"))


def table(frame: pl.DataFrame, domain: str | None = None, *, where: Any = st, index: bool = False,
          highlight: list[bool] | None = None, **options: Any) -> None:
    """Show a table as people read it (``display_frame``: display names, one number format per
    quantity); downloads of the same data keep code names and raw values. ``highlight`` marks
    rows (one flag per row) with a red tint."""
    shown, formats = display_frame(frame, domain)
    if highlight is None:
        config = {name: st.column_config.NumberColumn(format=fmt) for name, fmt in formats.items()}
        where.dataframe(shown, width="stretch", hide_index=not index, column_config=config, **options)
        return
    # A styled table shows the styler's text, so the same printf formats are applied there.
    styler = shown.to_pandas().style.format(
        {name: (lambda v, f=fmt: "" if v is None or v != v else f % v) for name, fmt in formats.items()})
    styler = styler.apply(
        lambda row: ["background-color: rgba(214, 39, 40, 0.15)" if highlight[row.name] else ""] * len(row), axis=1)
    where.dataframe(styler, width="stretch", hide_index=not index, **options)


def download_buttons(frame: pl.DataFrame, stem: str, *, key: str) -> None:
    left, right = st.columns(2)
    csv = flat_lists(frame).write_csv().encode()
    left.download_button("Download CSV", csv, f"{stem}.csv", "text/csv", key=f"{key}-csv")
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    right.download_button("Download Parquet", buffer.getvalue(), f"{stem}.parquet",
                          "application/octet-stream", key=f"{key}-parquet")


def need_model(ctx: PageContext, where: str = "") -> Predictor | None:
    """The selected model, or what the user should know instead: the progress of its
    preparation (the page reruns when it is done), or why it could not be loaded."""
    if ctx.predictor is not None:
        return ctx.predictor
    if ctx.preparing is not None and where != "predict":
        # One live progress bar (on Predict) is enough: each polling fragment is a script run
        # every second, and those compete with the fit itself for the interpreter.
        st.info("The default model is being fitted on the default data; the Predict tab shows its "
                "progress. Explore works meanwhile.", icon=":material/hourglass_top:")
    elif ctx.preparing is not None:
        _preparing(ctx.preparing)
    elif ctx.prepare_failed:
        st.error(ctx.model_error or "The model could not be prepared.")
        if st.button("Try again", key=f"{ctx.domain.key}-prepare-retry-{where}"):
            st.session_state[f"{ctx.domain.key}-prepare-retry"] = True
            st.rerun()
    else:
        st.warning(ctx.model_error or "No model is loaded. Train one in the Train tab.")
    return None


@st.fragment(run_every=2.0)
def _preparing(job: Job[Predictor]) -> None:
    if not job.running:
        st.rerun(scope="app")  # the model is ready (or failed): draw the page with it
    latest = job.latest
    st.info("The default model is being fitted on the default data, once: it is kept for later visits "
            "and server restarts. Explore works meanwhile.", icon=":material/hourglass_top:")
    st.progress(latest.fraction if latest else 0.0, text=job.status_line())


def threshold_key(domain_key: str, model_id: str, data_id: str) -> str:
    """One decision threshold per selected model (and dataset): the Predict slider's key."""
    return f"{domain_key}-threshold-{short_id(model_id + data_id)}"


def with_user_threshold(predictor: Predictor, domain_key: str, model_id: str, data_id: str) -> Predictor:
    """The one place the user's threshold is applied: the selected model decides at the value
    set for it (and this dataset) on the Predict slider, else at its stored threshold. Every
    tab (Predict, batch scoring, Live, Evaluate) receives this copy."""
    if not isinstance(predictor, Thresholded):
        return predictor
    key = threshold_key(domain_key, model_id, data_id)
    # The slider keeps its value for the whole session (``kept``), drawn or not: a move that
    # reaches the server after its tab was left (the slider commits a moment after the last
    # key press) still lands here, where a copy made by an on_change callback would miss it.
    chosen = float(st.session_state.get(key, float(predictor.threshold)))
    return predictor.with_threshold(chosen) if chosen != predictor.threshold else predictor


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~$:<])")


def plain_text_box(text: str, *, key: str) -> None:
    """Text a model produced from user input, shown as text in a readable bordered box: every
    markdown character is escaped, so nothing in it is formatted, linked or run."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")
    st.container(border=True, key=key).markdown(escaped)


def field_input(field: FieldSpec, domain_key: str, *, key: str) -> Any:
    """One widget for a domain's ``FieldSpec``: a picker for categories (shown by their
    labels), a number box, a checkbox or a text box; starts at the field's default."""
    label = field.title or display_name(field.name, domain_key)
    helptext = field.help or None
    if field.kind == "category":
        options = list(field.choices)
        shown = dict(zip(options, field.labels, strict=True)) if field.labels else {}
        index = options.index(field.default) if field.default in options else 0
        return st.selectbox(label, options, index=index, **kept(key), help=helptext,
                            format_func=lambda value: shown.get(value, str(value)))
    if field.kind in ("number", "integer"):
        value = float(field.default or 0.0)
        number = st.number_input(label, value=value, min_value=field.minimum, max_value=field.maximum, **kept(key),
                                 help=helptext)
        return int(number) if field.kind == "integer" else float(number)
    if field.kind == "bool":
        return st.checkbox(label, value=bool(field.default), **kept(key), help=helptext)
    return st.text_input(label, value=str(field.default or ""), **kept(key), help=helptext)


def queued_notice(job: Job[Any]) -> None:
    """Why a job waits and where it stands in the server's queue for its kind."""
    registry = job_registry()
    st.info(f"Busy: the server runs {registry.limits.get(job.kind, 1)} {job.kind}(s) at a time and they are all "
            f"taken. Yours is queued (position {registry.position(job) or 1}); it starts by itself.",
            icon=":material/hourglass_top:")


def job_table(records: list[JobRecord], visitor: str) -> pl.DataFrame:
    """Jobs as people read them: what, on which data, whose, state and progress, when."""
    return pl.DataFrame({
        "job": [r.kind for r in records],
        "domain": [r.domain for r in records],
        "model": [r.model for r in records],
        "data": [r.data for r in records],
        "started by": ["you" if r.owner == visitor else "another visitor" for r in records],
        "state": [r.status if r.state in ACTIVE else r.state for r in records],
        "progress": [r.fraction for r in records],
        "started": [time.strftime("%H:%M:%S", time.localtime(r.started)) for r in records],
        "result": [r.result or r.error or "" for r in records],
    }, schema_overrides={"progress": pl.Float64})
