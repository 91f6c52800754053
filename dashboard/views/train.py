"""Train: a background job with live progress and curves, Cancel, and the new
checkpoint registered (and selectable) when it finishes."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import resources
from dashboard.views.common import PageContext
from domains.base import TrainSettings
from domains.charts import metric_series_chart
from domains.jobs import train_and_save
from models.jobs import Job, JobState


def _job_key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-train-job"


def render(ctx: PageContext) -> None:
    specs = [s for s in ctx.domain.models() if s.trainable]
    key = _job_key(ctx)
    job: Job | None = st.session_state.get(key)
    c1, c2, c3 = st.columns(3)
    spec_key = c1.selectbox("Model", [s.key for s in specs], key=f"{key}-model",
                            format_func=lambda k: next(s.title for s in specs if s.key == k))
    cv = 0
    if ctx.domain.supports_cv:
        cv = c2.selectbox("Validation", [0, 3, 5, 10], index=0, key=f"{key}-cv",
                          format_func=lambda k: "20% holdout" if k == 0 else f"{k}-fold CV")
    epochs = c3.number_input("Epochs / boosting rounds (0 = recipe default)", 0, 2000, 0, key=f"{key}-epochs")
    st.caption(f"Training data: {ctx.data.name} ({ctx.data.frame.height:,} rows). Runs in the background; "
               "you can switch tabs while it trains.")
    busy = bool(job and job.running)
    if st.button("Start training", type="primary", disabled=busy, key=f"{key}-start"):
        spec = next(s for s in specs if s.key == spec_key)
        settings = TrainSettings(epochs=int(epochs) or None, cv=int(cv) or None)
        domain, data, device = ctx.domain, ctx.data, resources.device()
        st.session_state[key] = Job(
            name=f"{domain.key}-{spec.key}",
            target=lambda progress, cancel: train_and_save(domain, spec, data, settings, device=device,
                                                           progress=progress, cancel=cancel),
        ).start()
        st.session_state.pop(f"{key}-registered", None)
    _status(ctx)


@st.fragment(run_every=1.0)
def _status(ctx: PageContext) -> None:
    key = _job_key(ctx)
    job: Job | None = st.session_state.get(key)
    if job is None:
        st.info("No training job yet.")
        return
    latest = job.latest
    if job.running:
        text = f"{latest.stage} ({latest.step}/{latest.total})" if latest else "starting..."
        st.progress(latest.fraction if latest else 0.0, text=text)
        if st.button("Cancel training", key=f"{key}-cancel"):
            job.cancel()
            st.toast("Cancelling: the job stops at its next step; no checkpoint is written.")
    elif job.state is JobState.DONE and job.result is not None and job.result.bundle is not None:
        bundle = job.result.bundle
        st.success(f"Trained and saved {bundle.model} ({bundle.version}).")
        st.dataframe(pl.DataFrame([job.result.metrics]), width="stretch", hide_index=True)
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
        st.plotly_chart(metric_series_chart(curves, "report", "Training curves"), width="stretch",
                        key=f"{key}-curves")


def _curves(job: Job) -> pl.DataFrame | None:
    rows = [{"report": i, **{k: float(v) for k, v in p.metrics.items() if k not in {"epoch", "fold"}}}
            for i, p in enumerate(job.history()) if p.metrics]
    return pl.DataFrame(rows) if len(rows) > 1 else None
