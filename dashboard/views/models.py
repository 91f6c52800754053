from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard.state import kept, visitor_id
from dashboard.views.common import chart, job_table, table
from domains import registry
from domains.charts import styled
from domains.labels import display_name, format_value, readable
from domains.report import model_report
from domains.server import job_registry
from models.checkpoints import Bundle, list_bundles
from models.device import pick_device

# Metrics that sum a model up in the listing, after the domain's own summary metrics.
SUMMARY = ("auc", "acc", "accuracy", "macro_f1", "chrf", "bleu", "ndcg@10")


def render() -> None:
    st.title("Models")
    _jobs()
    trained, prepared = list_bundles(), registry.prepared_bundles()
    kinds = {str(b.path): "trained here" for b in trained} | {str(b.path): "prepared default" for b in prepared}
    bundles = trained + prepared
    if bundles:
        st.caption("Trained checkpoints (from a Train tab or `domainlens train`) and the default models this server "
                   "prepared for its pages, each with the metrics measured when it was fitted.")
        table(pl.DataFrame([_row(b, kinds[str(b.path)]) for b in bundles], infer_schema_length=None))
    else:
        st.info("No fitted models yet: open a domain page (its default model is prepared on the first visit), or "
                "train one from a domain's Train tab or with `domainlens train`.")
    _menus()
    if len(bundles) < 2:
        return
    labels = {str(b.path): _name(b, kinds[str(b.path)]) for b in bundles}
    picked = st.multiselect("Pick two or three to compare", list(labels), default=_two_alike(bundles),
                            max_selections=3, format_func=labels.__getitem__, **kept("models-compare"))
    if len(picked) < 2:
        return
    chosen = [b for p in picked for b in bundles if str(b.path) == p]
    _compare(chosen, [labels[p] for p in picked])


def _domain_title(key: str) -> str:
    """A checkpoint's domain by its page title (the key itself for a domain not installed here)."""
    return registry.get(key).title if key in registry.domain_keys() else key


def _name(bundle: Bundle, kind: str) -> str:
    # The version's date and time (20261203-164947): two fits of a model on one day stay apart.
    return f"{_domain_title(bundle.domain)}: {readable(bundle.model, bundle.domain)} ({kind}, {bundle.version[:15]})"


def _row(bundle: Bundle, kind: str) -> dict[str, object]:
    domain = bundle.domain
    own = registry.get(domain).summary_metrics if domain in registry.domain_keys() else ()
    keys = [k for k in dict.fromkeys((*own, *SUMMARY)) if k in bundle.metrics][:3]
    return {"domain": _domain_title(domain),
            "model": readable(bundle.model, domain), "kind": kind,
            "quality": " · ".join(f"{display_name(k, domain)} {format_value(k, bundle.metrics[k], domain)}"
                                  for k in keys),
            "created": str(bundle.metadata.get("created", ""))[:19].replace("T", " ")}


def _two_alike(bundles: list[Bundle]) -> list[str]:
    """Two models of the same domain when there are (a comparison that means something), else the newest two."""
    for b in bundles:
        same = [o for o in bundles if o.domain == b.domain]
        if len(same) >= 2:
            return [str(same[0].path), str(same[1].path)]
    return [str(b.path) for b in bundles[:2]]


def _menus() -> None:
    """Every domain's menu: what each model is and what it measured, fitted or not yet."""
    with st.expander("Every model on the menus"):
        rows = [{"domain": d.title, "model": m.title, "ready": "ready to use" if m.ready else "fitted on first use",
                 "notes": m.notes} for d in registry.all_domains() for m in d.models()]
        table(pl.DataFrame(rows))


def _comparison_report(domain_key: str, chosen: list[Bundle]) -> None:
    """The chosen models evaluated on their domain's bundled data, side by side, as one HTML file
    (built when clicked: each model is scored on the test split then)."""
    def document() -> bytes:
        domain = registry.get(domain_key)
        data = domain.load_data()
        split = next(iter(domain.evaluation_splits(data)))
        return model_report(domain, [b.path for b in chosen], data, split, device=pick_device("auto")).encode()

    st.download_button("Download comparison report", document, f"{domain_key}-comparison-report.html", "text/html",
                       key="models-compare-report", icon=":material/download:",
                       help="The models scored on the same test split: metrics with confidence intervals and "
                            "their curves on the same axes, each model's card, in one HTML file.")


def _compare(chosen: list[Bundle], names: list[str]) -> None:
    keys = sorted(set().union(*(b.metrics for b in chosen)))
    domain = chosen[0].domain if len({b.domain for b in chosen}) == 1 else None
    scores = pl.DataFrame({"metric": keys, **{n: [b.metrics.get(k) for k in keys]
                                              for n, b in zip(names, chosen, strict=True)}},
                          schema_overrides={n: pl.Float64 for n in names})
    if domain is None:
        st.caption("The models are of different domains: only the metrics they all recorded are comparable.")
    table(scores, domain)
    if domain is not None and domain in registry.domain_keys():
        _comparison_report(domain, chosen)
    left, right = st.columns(2)
    roc = go.Figure()
    for name, b in zip(names, chosen, strict=True):
        curve = b.metadata.get("curves", {}).get("roc")
        if curve:
            roc.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    roc.update_xaxes(title="false positive rate")
    roc.update_yaxes(title="true positive rate")
    chart(styled(roc, "ROC curves"), key="models-roc", domain=domain, where=left)
    curves = _history_metrics(chosen)
    if curves:
        domain = chosen[0].domain  # the terms of the first checkpoint's domain name its metrics
        metric = right.selectbox("Training curve", curves, format_func=lambda m: display_name(m, domain),
                                 **kept("models-curve"))
        history = go.Figure()
        for name, b in zip(names, chosen, strict=True):
            values = [h[metric] for h in b.metadata.get("history", []) if metric in h]
            if values:
                history.add_trace(go.Scatter(y=values, mode="lines+markers", name=name))
        history.update_xaxes(title="record (fold, epoch or step)")
        history.update_yaxes(title=display_name(metric, domain))
        chart(styled(history, "Training curves"), key="models-history", domain=domain, where=right)
    else:
        right.info("Neither checkpoint recorded training curves (e.g. a holdout fit without epochs or folds).")
    with st.expander("Metadata"):
        cols = st.columns(len(chosen))
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
