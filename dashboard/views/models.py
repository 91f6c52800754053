from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard.state import visitor_id
from dashboard.views.common import job_table
from domains.charts import styled
from domains.labels import display_name
from domains.server import job_registry
from models.checkpoints import Bundle, list_bundles


def render() -> None:
    st.title("Models")
    _jobs()
    bundles = list_bundles()
    if not bundles:
        st.info("No checkpoints yet. Train one from a domain's Train tab or with `domainlens train`.")
        return
    rows = [{"domain": b.domain, "model": b.model, "version": b.version, "created": b.metadata.get("created"),
             **{k: round(v, 4) for k, v in b.metrics.items()}, "path": str(b.path)} for b in bundles]
    st.dataframe(pl.DataFrame(rows, infer_schema_length=None), width="stretch", hide_index=True)
    labels = {str(b.path): f"{b.domain}/{b.model} · {b.version}" for b in bundles}
    picked = st.multiselect("Pick two to compare", list(labels), default=list(labels)[:2], max_selections=2,
                            format_func=labels.__getitem__, key="models-compare")
    if len(picked) != 2:
        return
    chosen = [b for p in picked for b in bundles if str(b.path) == p]
    _compare(chosen)


def _compare(chosen: list[Bundle]) -> None:
    names = [f"{b.model} · {b.version}" for b in chosen]
    keys = sorted(set(chosen[0].metrics) | set(chosen[1].metrics))
    table = pl.DataFrame({"metric": keys, **{n: [b.metrics.get(k) for k in keys] for n, b in zip(names, chosen,
                                                                                                  strict=True)}})
    st.dataframe(table, width="stretch", hide_index=True)
    left, right = st.columns(2)
    roc = go.Figure()
    for name, b in zip(names, chosen, strict=True):
        curve = b.metadata.get("curves", {}).get("roc")
        if curve:
            roc.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    roc.update_xaxes(title="false positive rate")
    roc.update_yaxes(title="true positive rate")
    left.plotly_chart(styled(roc, "ROC curves"), width="stretch", key="models-roc")
    curves = _history_metrics(chosen)
    if curves:
        domain = chosen[0].domain  # the terms of the first checkpoint's domain name its metrics
        metric = right.selectbox("Training curve", curves, format_func=lambda m: display_name(m, domain),
                                 key="models-curve")
        history = go.Figure()
        for name, b in zip(names, chosen, strict=True):
            values = [h[metric] for h in b.metadata.get("history", []) if metric in h]
            if values:
                history.add_trace(go.Scatter(y=values, mode="lines+markers", name=name))
        history.update_xaxes(title="record (fold, epoch or step)")
        history.update_yaxes(title=display_name(metric, domain))
        right.plotly_chart(styled(history, "Training curves"), width="stretch", key="models-history")
    else:
        right.info("Neither checkpoint recorded training curves (e.g. a holdout fit without epochs or folds).")
    with st.expander("Metadata"):
        cols = st.columns(2)
        for col, b in zip(cols, chosen, strict=True):
            col.json({k: v for k, v in b.metadata.items() if k not in {"reference_profile", "schema", "curves"}})


def _history_metrics(chosen: list[Bundle]) -> list[str]:
    """Numbers the checkpoints recorded while training (losses, fold scores), counters left out."""
    counters = {"step", "epoch", "fold", "total"}
    found = {k: None for b in chosen for h in b.metadata.get("history", []) for k, v in h.items()
             if isinstance(v, int | float) and k not in counters}
    return list(found)


@st.fragment(run_every=2.0)
def _jobs() -> None:
    """The server's trainings: running and queued first, then recent ones; Cancel for yours."""
    registry, visitor = job_registry(), visitor_id()
    records = registry.records()
    if not records:
        return
    st.subheader("Jobs on this server")
    st.dataframe(job_table(records, visitor), width="stretch", hide_index=True)
    for record in records:
        job = registry.get(record.id)
        if job is not None and job.active and job.owner == visitor and not job.cancel_token.cancelled:
            st.button(f"Cancel {record.domain} / {record.model} ({record.state})", key=f"models-cancel-{record.id}",
                      on_click=job.cancel)
