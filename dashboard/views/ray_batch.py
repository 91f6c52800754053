""""Run on Ray": the batch file scored on the configured Ray cluster as a Ray job
(``domains.server.ray_jobs``). Shown only when ``DOMAINLENS_RAY_ADDRESS`` is set. The page polls
the job's status once a second; a refreshed page finds the visitor's last job from its
record, with its progress, Stop, and the result to download when it is done."""

from __future__ import annotations

import time
from collections.abc import Callable

import polars as pl
import streamlit as st

from dashboard.state import kept, visitor_id
from dashboard.views.common import PageContext, download_buttons, table
from domains.base import DomainLensError
from domains.capabilities import Thresholded
from domains.server import ray_jobs


def enabled() -> bool:
    return ray_jobs.cluster_address() is not None


def chosen(ctx: PageContext) -> bool:
    """The "Run on Ray" switch; on by default for a visitor who has a Ray job on this page,
    so a refreshed page shows that job."""
    return st.toggle("Run on Ray", **kept(f"{_key(ctx)}-on"), value=_job(ctx) is not None,
                     help=f"Score the file on the Ray cluster at {ray_jobs.cluster_address()} instead of this server")


def _key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-ray-job"


def _job(ctx: PageContext) -> ray_jobs.RayJob | None:
    job: ray_jobs.RayJob | None = st.session_state.get(_key(ctx))
    if job is None:
        job = ray_jobs.latest(visitor_id(), ctx.domain.key)  # after a refresh
        if job is not None:
            st.session_state[_key(ctx)] = job
    return job


def offer(ctx: PageContext, inputs: Callable[[], pl.DataFrame], source: str, model: str) -> None:
    """The "Submit to Ray" button for the uploaded file (``inputs`` reads it only on a click)."""
    if st.button("Submit to Ray", key=f"{_key(ctx)}-submit", type="primary",
                 help=f"Score this file on the Ray cluster at {ray_jobs.cluster_address()} instead of this server"):
        try:
            threshold = ctx.predictor.threshold if isinstance(ctx.predictor, Thresholded) else None
            job = ray_jobs.submit(ctx.domain.key, ctx.model_id, inputs(), owner=visitor_id(), data=source,
                                  model=model, threshold=threshold)
        except DomainLensError as exc:
            st.error(f"Could not submit to Ray: {exc}")
            return
        st.session_state[_key(ctx)] = job


def show(ctx: PageContext) -> None:
    """The visitor's last Ray job on this page, if any: live while it runs, its result after."""
    job = _job(ctx)
    if job is None:
        return
    st.markdown(f"**On Ray:** {job.data} ({job.rows:,} rows), submitted at "
                f"{time.strftime('%H:%M:%S', time.localtime(job.submitted))}")
    status = _status(job)
    if status is None:
        return
    if not status.finished:
        _live(ctx)
    elif status.state == "SUCCEEDED":
        _result(ctx, job)
    elif status.state == "STOPPED":
        st.warning("The Ray job was stopped; nothing was written.")
    else:
        st.error(f"The Ray job failed: {status.message}")


def _status(job: ray_jobs.RayJob) -> ray_jobs.RayJobStatus | None:
    """The job's status; a finished one is asked for once per session, not on every rerun."""
    final = st.session_state.get(f"ray-final-{job.id}")
    if final is not None:
        return final
    try:
        status = ray_jobs.status(job)
    except DomainLensError as exc:
        st.warning(f"Cannot reach the Ray cluster: {exc}")
        return None
    if status.finished:
        st.session_state[f"ray-final-{job.id}"] = status
    return status


@st.fragment(run_every=1.0)
def _live(ctx: PageContext) -> None:
    job = _job(ctx)
    if job is None:
        return
    status = _status(job)
    if status is None:
        return
    if status.finished:
        st.rerun(scope="app")  # the page draws the result or the failure
    fraction = min(status.done / status.total, 1.0) if status.total else 0.0
    st.progress(fraction, text=f"Ray job {status.state.lower()}: {status.done:,} of {status.total:,} rows scored")
    st.button("Stop the Ray job", key=f"{_key(ctx)}-stop", on_click=ray_jobs.stop, args=(job,))


def _result(ctx: PageContext, job: ray_jobs.RayJob) -> None:
    cached = st.session_state.get(f"{_key(ctx)}-result")
    if cached is None or cached[0] != job.id:
        cached = (job.id, ray_jobs.result(job))
        st.session_state[f"{_key(ctx)}-result"] = cached
    scored: pl.DataFrame = cached[1]
    st.success(f"Scored {scored.height:,} rows on Ray. Written to {job.output}")
    table(scored.head(1000), ctx.domain.key, height=300)
    download_buttons(scored, "predictions", key=f"{_key(ctx)}-result")
