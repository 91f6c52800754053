"""Scoring an uploaded batch as a server job: it queues behind the server's limit like a
training, its progress and Cancel refresh in place, a page rerun (any click) reuses the
result instead of scoring the file again, and a refreshed page finds the visitor's last
batch and its result."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePath

import polars as pl
import streamlit as st

from dashboard.state import short_id, visitor_id
from dashboard.views.common import PageContext, queued_notice
from domains.base import Predictor
from domains.server import BATCH, job_registry, submit_batch
from models.jobs import Job, JobState


def _key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-batch-job"


def _name(ctx: PageContext, digest: str) -> str:
    """One job name per domain, model and file content: the same upload under the same model is the same job."""
    return f"{ctx.domain.key}-batch-{short_id(f'{ctx.model_id}|{digest}')}"


def last_batch(ctx: PageContext) -> Job[pl.DataFrame] | None:
    """This tab's batch job, or after a refresh the newest one this visitor started here."""
    job: Job[pl.DataFrame] | None = st.session_state.get(_key(ctx))
    if job is None:
        job = job_registry().latest_of(visitor_id(), BATCH, ctx.domain.key)
        if job is not None:
            st.session_state[_key(ctx)] = job
    return job


def scored_batch(ctx: PageContext, predictor: Predictor, inputs: Callable[[], pl.DataFrame], source: str,
                 digest: str, *, batch_rows: int = 8192) -> pl.DataFrame | None:
    """The scored frame once the job for this upload (``source`` names it, ``digest`` is its
    content's) is done; until then its queue position or progress (with Cancel), or why it
    stopped (with a way to score again). ``inputs`` reads the upload: called only when a
    job is submitted, so a rerun does not parse a large file again."""
    name = _name(ctx, digest)
    job = last_batch(ctx)
    again = st.session_state.pop(f"{_key(ctx)}-again", False)
    if job is None or job.name != name or again:
        if job is not None and job.active:
            job.cancel()  # another file or model replaces it
        job = submit_batch(ctx.domain.key, predictor, inputs(), name=name, model=model_name(ctx.model_id),
                           data=source, owner=visitor_id(), batch_rows=batch_rows)
        st.session_state[_key(ctx)] = job
    if job.state is JobState.DONE and job.result is not None:
        return job.result
    (_status_active if job.active else _status_idle)(ctx)
    return None


def show_last(ctx: PageContext, show: Callable[[pl.DataFrame], None]) -> None:
    """With the upload box empty (after a refresh): the visitor's last batch here, its result
    (drawn by ``show``) while the server keeps it, else its progress or how it ended."""
    job = last_batch(ctx)
    if job is None:
        return
    if job.state is JobState.DONE and job.result is not None:
        st.caption(f"Your last batch: {job.data}, scored at {time.strftime('%H:%M', time.localtime(job.started))}.")
        show(job.result)
    else:
        (_status_active if job.active else _status_idle)(ctx)


@st.fragment(run_every=1.0)
def _status_active(ctx: PageContext) -> None:
    job = last_batch(ctx)
    if job is None or not job.active:
        st.rerun(scope="app")  # finished: the page draws the result
    _status(ctx)


@st.fragment
def _status_idle(ctx: PageContext) -> None:
    _status(ctx)


def _status(ctx: PageContext) -> None:
    job = last_batch(ctx)
    if job is None:
        return
    if job.state is JobState.QUEUED:
        queued_notice(job)
    elif job.running:
        latest = job.latest
        prefix = "Cancelling... " if job.cancel_token.cancelled else ""
        text = f"Scored {latest.step:,} of {latest.total:,} rows" if latest and latest.total else "Scoring..."
        st.progress(latest.fraction if latest else 0.0, text=prefix + text)
    elif job.state is JobState.CANCELLED:
        st.warning("Batch scoring was cancelled.")
    elif job.state is JobState.FAILED:
        st.error(f"Batch scoring failed: {job.error}")
    if job.active:
        st.button("Cancel scoring", key=f"{_key(ctx)}-cancel", on_click=job.cancel,
                  disabled=job.cancel_token.cancelled)
    else:
        st.button("Score again", key=f"{_key(ctx)}-again", on_click=_forget, args=(ctx,))


def _forget(ctx: PageContext) -> None:
    """The next run submits the upload again."""
    st.session_state[f"{_key(ctx)}-again"] = True


def model_name(model_id: str) -> str:
    """``spec:gbm`` -> ``gbm``; a checkpoint folder ``.../gbm/20261130-101500`` -> ``gbm/20261130-101500``."""
    if model_id.startswith("spec:"):
        return model_id.removeprefix("spec:")
    path = PurePath(model_id)
    return f"{path.parent.name}/{path.name}"
