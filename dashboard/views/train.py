"""Train: a background job with live progress and curves, Cancel, and the new
checkpoint registered (and selectable) when it finishes.

Jobs belong to the server's registry, not the tab: a refreshed page finds its running
job again, a training beyond the server's limit waits in a queue (its position shown),
and every visitor sees the jobs running on the server. Start and Cancel are drawn in
the fragment that polls the job and act through callbacks, so Start is disabled for as
long as the job is queued or runs and Cancel is there exactly then.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import resources
from dashboard.state import kept, visitor_id
from dashboard.views.common import PageContext, chart, data_title, job_table, queued_notice, table
from domains.base import ModelSpec, TrainSettings
from domains.charts import metric_series_chart
from domains.labels import readable
from domains.server import TRAINING, job_registry, submit_training
from models.jobs import ACTIVE, Job, JobState


def _job_key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-train-job"


def _specs(ctx: PageContext) -> list[ModelSpec]:
    return [s for s in ctx.domain.models() if s.trainable]


def render(ctx: PageContext) -> None:
    specs = {s.key: s for s in _specs(ctx)}
    key = _job_key(ctx)
    c1, c2, c3 = st.columns(3)
    c1.selectbox("Model", list(specs), **kept(f"{key}-model"), format_func=lambda k: specs[k].title)
    if ctx.domain.supports_cv:
        c2.selectbox("Validation", [0, 3, 5, 10], index=0, **kept(f"{key}-cv"),
                     format_func=lambda k: "20% holdout" if k == 0 else f"{k}-fold CV")
    c3.number_input("Epochs / boosting rounds (0 = recipe default)", 0, 2000, 0, **kept(f"{key}-epochs"))
    st.caption(f"Training data: {data_title(ctx)} ({ctx.data.frame.height:,} rows). Runs in the background; "
               "you can switch tabs while it trains.")
    job = _my_job(ctx)
    # Poll only while the job is queued or runs (see the Live tab): idle tabs cost nothing.
    (_status_active if job is not None and job.active else _status_idle)(ctx)


def _start(ctx: PageContext) -> None:
    """Start with the settings on screen now (read from their widgets at the click)."""
    key = _job_key(ctx)
    specs = {s.key: s for s in _specs(ctx)}
    spec = specs[st.session_state[f"{key}-model"]]
    settings = TrainSettings(epochs=int(st.session_state.get(f"{key}-epochs", 0)) or None,
                             cv=int(st.session_state.get(f"{key}-cv", 0)) or None)
    st.session_state[key] = submit_training(ctx.domain, spec, ctx.data, settings, device=resources.device(),
                                            owner=visitor_id())
    st.session_state.pop(f"{key}-registered", None)


def _cancel(ctx: PageContext) -> None:
    job: Job | None = st.session_state.get(_job_key(ctx))
    if job is not None and job.active:
        job.cancel()
        st.toast("Cancelling: the job stops at its next step; no checkpoint is written.")


def _my_job(ctx: PageContext) -> Job | None:
    """This tab's job, or after a refresh the running job this visitor started here."""
    key = _job_key(ctx)
    job: Job | None = st.session_state.get(key)
    if job is None:
        found = job_registry().latest_of(visitor_id(), TRAINING, ctx.domain.key)
        if found is not None and found.active:
            job = st.session_state[key] = found
            st.session_state[f"{key}-registered"] = False
    return job


@st.fragment(run_every=1.0)
def _status_active(ctx: PageContext) -> None:
    job = _my_job(ctx)
    if job is None or not job.active:
        st.rerun(scope="app")  # finished: the idle status draws the result (and registers a new checkpoint)
    _status(ctx)


@st.fragment
def _status_idle(ctx: PageContext) -> None:
    job = _my_job(ctx)
    if job is not None and job.active:
        st.rerun(scope="app")  # Start was pressed: switch to the polling status
    _status(ctx)


def _status(ctx: PageContext) -> None:
    key = _job_key(ctx)
    job = _my_job(ctx)
    active = bool(job and job.active)
    start, cancel = st.columns(2)
    start.button("Start training", type="primary", disabled=active, key=f"{key}-start", on_click=_start,
                 args=(ctx,), width="stretch")
    if active:
        cancel.button("Cancel training", key=f"{key}-cancel", on_click=_cancel, args=(ctx,), width="stretch",
                      disabled=bool(job and job.cancel_token.cancelled))
    _server_jobs(ctx)
    if job is None:
        st.info("No training job yet.")
        return
    latest = job.latest
    if job.state is JobState.QUEUED:
        queued_notice(job)
    elif job.running:
        prefix = "Cancelling... " if job.cancel_token.cancelled else ""
        st.progress(latest.fraction if latest else 0.0, text=prefix + job.status_line())
    elif job.state is JobState.DONE and job.result is not None and job.result.bundle is not None:
        bundle = job.result.bundle
        st.success(f"Trained and saved {readable(bundle.model, ctx.domain.key)} (version {bundle.version}).")
        table(pl.DataFrame([job.result.metrics]), ctx.domain.key)
        if not st.session_state.get(f"{key}-registered"):
            # The model picker is already drawn this run; hand the new checkpoint over
            # and rerun the whole page so the picker selects it before it is drawn.
            st.session_state[f"{key}-registered"] = True
            st.session_state[f"{ctx.domain.key}-model-pending"] = str(bundle.path)
            st.rerun(scope="app")
    elif job.state is JobState.CANCELLED:
        st.warning("Training was cancelled. Earlier checkpoints are unchanged; nothing was saved.")
    elif job.state is JobState.FAILED:
        st.error(f"Training failed: {job.error}. Earlier checkpoints are unchanged.")
    curves = _curves(job)
    if curves is not None:
        chart(metric_series_chart(curves, "step", "Training curves", y_title="value"), key=f"{key}-curves",
              domain=ctx.domain.key)


def _server_jobs(ctx: PageContext) -> None:
    """Every training of this domain on the server, running, queued and recent."""
    records = [r for r in job_registry().records(ctx.domain.key) if r.kind == TRAINING]
    if records:
        with st.expander(f"Trainings on this server ({sum(r.state in ACTIVE for r in records)} "
                         "running or queued)"):
            st.dataframe(job_table(records, visitor_id()), width="stretch", hide_index=True)


def _curves(job: Job) -> pl.DataFrame | None:
    """Loss and validation metrics against the training step (fold and epoch numbers are
    positions, not curves)."""
    rows = [{"step": p.step, **{k: float(v) for k, v in p.metrics.items() if k not in {"epoch", "fold"}}}
            for p in job.history() if p.metrics]
    return pl.DataFrame(rows, infer_schema_length=None) if len(rows) > 1 else None
