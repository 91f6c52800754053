"""The page every domain gets: sidebar data and model pickers, then five tabs."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard import resources
from dashboard.errors import guarded
from dashboard.state import initial, persisted, remember, short_id
from dashboard.views import evaluate, explore, live, predict, train
from dashboard.views.common import PageContext, field_input, with_user_threshold
from domains import remote
from domains.base import Domain, DomainData, DomainLensError, ModelSpec, Predictor
from domains.capabilities import HasScoringCheck
from domains.io import MAX_UPLOAD_MB
from domains.labels import display_name
from domains.lineage import fits, page_default, trained_on
from domains.server import prepare, ray_jobs
from models.checkpoints import Bundle, list_bundles
from models.jobs import Job, JobState

TABS = ("Explore", "Predict", "Live", "Train", "Evaluate")
TAB_PARAM = "tab"
RENDER_ORDER = ("Predict", "Live", "Train", "Explore", "Evaluate")


@dataclass
class Choice:
    """The sidebar's model: loaded, failed with a message, or still being prepared."""

    predictor: Predictor | None
    model_id: str
    error: str | None = None
    preparing: Job[Predictor] | None = None
    prepare_failed: bool = False


def render_domain_page(key: str) -> None:
    domain = resources.domain(key)
    st.title(domain.title)
    st.caption(domain.description)
    with st.sidebar:
        data, data_id = _pick_data(domain)
        model = _pick_model(domain, data, data_id)
    if data is None:
        st.info("Choose a dataset in the sidebar to begin.")
        return
    predictor = with_user_threshold(model.predictor, domain.key, model.model_id, data_id) if model.predictor else None
    ctx = PageContext(domain, data, data_id, predictor, model.model_id, model.error, model.preparing,
                      model.prepare_failed, stored=model.predictor)
    # The open tab is in the URL (?tab=Live): a refresh, or a link someone was sent, opens on it.
    # Switching tabs reruns the page, and a run draws only the open tab: a slider move on
    # Predict no longer rebuilds Explore's charts and Evaluate's report lookup.
    tabs = dict(zip(TABS, st.tabs(list(TABS), key=TAB_PARAM, bind="query-params"), strict=True))
    views = {"Explore": explore, "Predict": predict, "Live": live, "Train": train, "Evaluate": evaluate}
    for name in open_tabs(tabs):
        with tabs[name], guarded(name):
            views[name].render(ctx)


def open_tabs(tabs: dict[str, Any]) -> list[str]:
    """The tabs to draw this run: the open one; every tab, in the order that makes Predict
    usable first, where Streamlit does not say which is open."""
    opened = [name for name, tab in tabs.items() if tab.open]
    if opened:
        return opened
    return list(RENDER_ORDER) if all(tab.open is None for tab in tabs.values()) else [TABS[0]]


def _pick_data(domain: Domain) -> tuple[DomainData | None, str]:
    sources = {s.key: s.title for s in domain.datasets()}
    menu = [*sources, "upload"]
    key = f"{domain.key}-data-choice"
    start = initial(key, menu[0])
    choice = st.radio("Data", menu, index=menu.index(start) if start in menu else 0,
                      format_func=lambda k: sources.get(k, "Upload a file"), **persisted(key))
    if choice != "upload":
        with guarded("Loading data"):
            return resources.bundled_data(domain.key, choice), f"bundled:{choice}"
        return None, ""
    kinds = ", ".join(t.upper() for t in domain.upload_types)
    upload = st.file_uploader(f"{kinds} (max {MAX_UPLOAD_MB} MB)", type=list(domain.upload_types),
                              key=f"{domain.key}-upload")
    if upload is None:
        return None, ""
    payload = upload.getvalue()
    with guarded("Reading the file"):
        digest = hashlib.sha256(payload).hexdigest()[:16]
        options = _upload_options(domain, upload.name, payload, digest)
        data = resources.uploaded_data(domain.key, upload.name, payload, options)
        return data, f"upload:{digest}:{options}"
    return None, ""


def _upload_options(domain: Domain, name: str, payload: bytes, digest: str) -> tuple[tuple[str, Any], ...]:
    """The domain's pickers for this file (e.g. target column, then its bad value), one at a
    time: a field's choices may depend on what was picked before it."""
    chosen: dict[str, Any] = {}
    while True:
        fields = resources.upload_fields(domain.key, name, digest, tuple(chosen.items()), payload)
        pending = [f for f in fields if f.name not in chosen]
        if not pending:
            return tuple(chosen.items())
        chosen[pending[0].name] = field_input(pending[0], domain.key, key=f"{domain.key}-upload-{pending[0].name}")


def _pick_model(domain: Domain, data: DomainData | None, data_id: str) -> Choice:
    """The sidebar's model menu. One rule for what a page opens with: among the checkpoints
    trained on data like the selected one (and fast enough, where the domain sets a
    ``default_speed``), the best by the domain's ``default_metric`` (or the newest), else the
    first menu entry. Checkpoints trained on other data stay listed,
    marked, but are never the default."""
    bundles = list_bundles(domain.key)
    signature = resources.signature(data_id, data) if data is not None else None
    fitting = [b for b in bundles if signature is None or fits(b.metadata, signature)]
    others = [b for b in bundles if b not in fitting]
    labels = {str(b.path): bundle_label(b, domain) for b in fitting}
    for spec in domain.models():
        labels[f"spec:{spec.key}"] = spec.title  # the caption below says when one is fitted first
    labels.update({str(b.path): f"{bundle_label(b, domain)} · trained on {trained_on(b.metadata) or 'other data'}"
                   for b in others})
    choices = list(labels)
    # One menu per dataset: switching data re-applies the rule instead of carrying a model over.
    key = f"{domain.key}-model-{short_id(data_id)}"
    generation = st.session_state.get(f"{key}-generation", 0)
    pending = st.session_state.pop(f"{domain.key}-model-pending", None)
    if pending in labels:  # a checkpoint the Train tab just saved: a fresh widget shows it
        generation += 1
        st.session_state[f"{key}-generation"] = generation
        remember(f"{key}-{generation}", pending)
    widget = f"{key}-{generation}"
    opening = page_default(fitting, domain.default_metric, domain.default_speed)
    kept_choice = initial(widget, str(opening.path) if opening is not None else choices[0])
    index = choices.index(kept_choice) if kept_choice in labels else 0
    choice = st.selectbox("Model", choices, index=index, format_func=labels.__getitem__, help=labels[choices[index]],
                          **persisted(widget))
    cluster = ray_jobs.cluster_address()
    st.caption(f"Device: {resources.device_name()}" + (f" · Ray cluster: {cluster}" if cluster else ""))
    try:
        return _through_server(domain, _loaded(domain, choice))
    except DomainLensError as exc:
        return Choice(None, choice, str(exc))
    except Exception as exc:
        return Choice(None, choice, f"Could not load the model: {type(exc).__name__}: {exc}")


def _loaded(domain: Domain, choice: str) -> Choice:
    """The chosen model opened in-process (or the state of its first fit)."""
    if choice.startswith("spec:"):
        spec = domain.spec(choice.removeprefix("spec:"))
        if spec.ready:
            predictor = resources.predictor_from_spec(domain.key, spec.key)
        else:
            prepared = _prepared(domain, spec, choice)
            if isinstance(prepared, Choice):  # still being fitted, or failed
                return prepared
            predictor = prepared
    else:
        predictor = resources.predictor_from_checkpoint(domain.key, choice)
    _scoring_caption(predictor)
    return Choice(predictor, choice)


def _through_server(domain: Domain, choice: Choice) -> Choice:
    """With ``DOMAINLENS_MODEL_SERVER`` set, the model scores on that server (the sidebar says
    so); a server that does not answer, or does not serve this domain, leaves it in-process
    with a message and a way to try the server again."""
    url = remote.server_url()
    if url is None or choice.predictor is None:
        return choice
    domains, problem = resources.model_server(url)
    if problem is None and domain.key in domains:
        st.caption(f"Models run on the model server at {url}")
        served = remote.served(choice.predictor, domain.key, remote.model_id(domain.key, choice.model_id),
                               remote.client_for(url))
        return dataclasses.replace(choice, predictor=served)
    reason = problem or f"it serves {', '.join(domains) or 'no domain'}, not {domain.title}"
    st.warning(f"The model server at {url} cannot score here ({reason}). Models run in-process on this "
               "machine meanwhile.")
    if st.button("Try the model server again", key=f"{domain.key}-server-retry"):
        resources.model_server.clear()
        st.rerun()
    return choice


def _prepared(domain: Domain, spec: ModelSpec, choice: str) -> Predictor | Choice:
    """A menu entry fitted on first use by a shared background job: its model once the job is
    done, else the page's state while it runs (the tabs show its progress; Explore works
    meanwhile) or after it failed."""
    retry = st.session_state.pop(f"{domain.key}-prepare-retry", False)
    job = prepare(domain, spec, resources.device(), retry=retry)
    if job.state is JobState.DONE and job.result is not None:
        st.caption("Fitted on the default data by this server (kept for later visits; on the Models page).")
        return job.result
    if job.state is JobState.RUNNING:
        st.caption(f"Preparing {spec.title} on the default data (once; kept for later visits).")
        return Choice(None, choice, preparing=job)
    return Choice(None, choice, f"Could not prepare {spec.title}: {job.error}", prepare_failed=True)


def _scoring_caption(predictor: Predictor) -> None:
    """Which path scores here: an int8 fast path checked on this machine, or exact scoring
    because it disagreed (first load on a machine runs the check; later loads read it)."""
    if not isinstance(predictor, HasScoringCheck):
        return
    with st.spinner("Checking the int8 fast path on this machine (once per model)..."):
        scoring = predictor.scoring()
    if scoring is not None:
        st.caption(scoring.short(), help=scoring.summary())


def bundle_label(bundle: Bundle, domain: Domain) -> str:
    """Model · version · the domain's summary metric, e.g. ``gbm · 20261130-101500 · AUC 0.812``."""
    name = next((m for m in domain.summary_metrics if m in bundle.metrics), None)
    if name is None:
        return f"{bundle.model} · {bundle.version}"
    return f"{bundle.model} · {bundle.version} · {display_name(name, domain.key)} {bundle.metrics[name]:.3f}"
