"""The page every domain gets: sidebar data and model pickers, then five tabs."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from dashboard import resources
from dashboard.errors import guarded
from dashboard.state import keep, kept, remember
from dashboard.views import evaluate, explore, live, predict, train
from dashboard.views.common import PageContext
from domains.base import Domain, DomainData, DomainLensError, HasScoringCheck, Predictor
from domains.io import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, guess_text_column, read_table_bytes
from models.checkpoints import list_bundles

TABS = ("Explore", "Predict", "Live", "Train", "Evaluate")


def render_domain_page(key: str) -> None:
    domain = resources.domain(key)
    st.title(domain.title)
    st.caption(domain.description)
    with st.sidebar:
        data, data_id = _pick_data(domain)
        predictor, model_id, model_error = _pick_model(domain)
    if data is None:
        st.info("Choose a dataset in the sidebar to begin.")
        return
    ctx = PageContext(domain, data, data_id, predictor, model_id, model_error)
    tabs = st.tabs(list(TABS))
    for tab, view, name in zip(tabs, (explore, predict, live, train, evaluate), TABS, strict=True):
        with tab, guarded(name):
            view.render(ctx)


def _pick_data(domain: Domain) -> tuple[DomainData | None, str]:
    sources = {s.key: s.title for s in domain.datasets()}
    choice_key = kept(f"{domain.key}-data-choice")
    choice = st.radio("Data", [*sources, "upload"], key=choice_key, on_change=keep, args=(choice_key,),
                      format_func=lambda k: sources.get(k, "Upload a file"))
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
        options = _upload_options(domain, upload.name, payload)
        digest = hashlib.sha256(payload).hexdigest()[:16]
        data = resources.uploaded_data(domain.key, upload.name, payload, options)
        return data, f"upload:{digest}:{options}"
    return None, ""


def _upload_options(domain: Domain, name: str, payload: bytes) -> tuple[tuple[str, Any], ...]:
    """Column pickers for table uploads: the target and its bad value (tabular), or the
    text and label columns (text)."""
    if domain.input_kind == "text_pair":
        return _language_options(domain)
    if domain.input_kind not in ("tabular", "text"):
        return ()
    table = read_table_bytes(name, payload, max_bytes=MAX_UPLOAD_BYTES)
    if domain.input_kind == "text":
        columns = table.columns
        guess = guess_text_column(table)
        text = st.selectbox("Text column", columns, index=columns.index(guess), key=f"{domain.key}-upload-text")
        others = ["(none: predict only)", *[c for c in columns if c != text]]
        label_guess = next((c for c in others if c.lower() in ("label", "labels", "category", "class", "target",
                                                                "sentiment", "topic")), others[0])
        label = st.selectbox("Label column", others, index=others.index(label_guess),
                             key=f"{domain.key}-upload-label")
        return (("text_col", text), ("label_col", None if label == others[0] else label))
    target = st.selectbox("Target column", table.columns, index=len(table.columns) - 1,
                          key=f"{domain.key}-upload-target")
    values = sorted({str(v) for v in table[target].drop_nulls().unique().to_list()})[:50]
    bad = st.selectbox("Value that marks a bad outcome", values, key=f"{domain.key}-upload-bad")
    return (("target", target), ("bad", bad))


def _language_options(domain: Domain) -> tuple[tuple[str, Any], ...]:
    """The languages of an uploaded parallel file (source<TAB>reference lines)."""
    from domains.translation.languages import NAMES

    codes = list(NAMES)
    left, right = st.columns(2)
    src = left.selectbox("Source language", codes, index=codes.index("en"), format_func=NAMES.__getitem__,
                         key=f"{domain.key}-upload-src")
    tgt = right.selectbox("Reference language", codes, index=codes.index("pt"), format_func=NAMES.__getitem__,
                          key=f"{domain.key}-upload-tgt")
    return (("src", src), ("tgt", tgt))


def _pick_model(domain: Domain) -> tuple[Predictor | None, str, str | None]:
    bundles = list_bundles(domain.key)
    labels = {str(b.path): _bundle_label(b.model, b.version, b.metrics) for b in bundles}
    specs = list(domain.models())
    for spec in specs:
        labels[f"spec:{spec.key}"] = spec.title if spec.ready else f"{spec.title} (fit on default data)"
    choices = list(labels)
    key = f"{domain.key}-model-choice"
    pending = st.session_state.pop(f"{key}-pending", None)
    if pending in labels:
        remember(key, pending)  # a checkpoint the Train tab just registered
    kept(key)
    if st.session_state.get(key) not in labels:
        st.session_state[key] = choices[0]
    choice = st.selectbox("Model", choices, key=key, on_change=keep, args=(key,), format_func=labels.__getitem__)
    st.caption(f"Device: {resources.device_name()}")
    try:
        if choice.startswith("spec:"):
            predictor = resources.predictor_from_spec(domain.key, choice.removeprefix("spec:"))
        else:
            predictor = resources.predictor_from_checkpoint(domain.key, choice)
        _scoring_caption(predictor)
        return predictor, choice, None
    except DomainLensError as exc:
        return None, choice, str(exc)
    except Exception as exc:
        return None, choice, f"Could not load the model: {type(exc).__name__}: {exc}"


def _scoring_caption(predictor: Predictor) -> None:
    """Which path scores here: an int8 fast path checked on this machine, or exact scoring
    because it disagreed (first load on a machine runs the check; later loads read it)."""
    if not isinstance(predictor, HasScoringCheck):
        return
    with st.spinner("Checking the int8 fast path on this machine (once per model)..."):
        scoring = predictor.scoring()
    if scoring is not None:
        st.caption(scoring.short(), help=scoring.summary())


def _bundle_label(model: str, version: str, metrics: dict[str, float]) -> str:
    for name, label in (("auc", "AUC"), ("val_auc", "val AUC"), ("ndcg@10", "nDCG@10"), ("accuracy", "acc"),
                        ("val_accuracy", "val acc")):
        if name in metrics:
            return f"{model} · {version} · {label} {metrics[name]:.3f}"
    return f"{model} · {version}"
