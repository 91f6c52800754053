"""Every ``st.cache_*`` call of the dashboard lives here, so what is shared between
sessions (read-only predictors, datasets) is visible in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st
import torch

from domains import registry, remote, server
from domains.base import Domain, DomainData, DomainLensError, FieldSpec, Predictor, Report
from domains.capabilities import (
    Explainer,
    HasStudies,
    HasTextInputs,
    HasUserProfiles,
    ImageExplainer,
    Recommender,
    TextAttribution,
    Translator,
)
from domains.charts import (
    attribution_chart,
    importance_chart,
    item_map_chart,
    overlay_figure,
    probability_bars,
    waterfall_chart,
)
from domains.images import Study
from domains.lineage import data_signature
from models.device import describe_device, pick_device
from models.fastpath import Scoring

# What is read from uploads is keyed by the file's own bytes (another session gets a hit only
# by uploading the same file) and dropped after this long: nothing of a visitor's files
# outlives their visit by much. Streamlit itself drops the uploaded bytes when a session ends.
UPLOAD_TTL_S = 30 * 60


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    return pick_device()


@st.cache_resource(show_spinner=False)
def device_name() -> str:
    return describe_device(device())


@st.cache_data(show_spinner=False, ttl=5)
def model_server(url: str) -> tuple[tuple[str, ...], str | None]:
    """The domains the model server at ``url`` serves, or why it cannot be used (asked at most
    every 5 s per server, not on every rerun)."""
    try:
        ready = remote.client_for(url, timeout_s=3.0).ready_domains()
    except DomainLensError as exc:
        return (), str(exc)
    return tuple(ready), None


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server: fit the domains' default models in the background (see
    ``domains.server.warm_up``); pages visited meanwhile show the job's progress."""
    server.warm_up([registry.get(k) for k in registry.domain_keys()], device())
    return True


def domain(key: str) -> Domain:
    return registry.get(key)  # registry caches instances itself; domains are light


@st.cache_resource(show_spinner="Loading data...", max_entries=16)
def bundled_data(domain_key: str, source: str) -> DomainData:
    return registry.get(domain_key).load_data(source)


@st.cache_resource(show_spinner="Loading data...", max_entries=8, ttl=UPLOAD_TTL_S)
def uploaded_data(domain_key: str, name: str, payload: bytes, options: tuple[tuple[str, Any], ...]) -> DomainData:
    """``options`` (e.g. target and bad value, or text and label columns) go to ``read_upload``."""
    return registry.get(domain_key).read_upload(name, payload, **dict(options))


@st.cache_resource(show_spinner="Reading the file...", max_entries=32, ttl=UPLOAD_TTL_S)
def upload_fields(domain_key: str, name: str, digest: str, chosen: tuple[tuple[str, Any], ...],
                  _payload: bytes) -> list[FieldSpec]:
    """The pickers an uploaded file needs (keyed by its digest, so a file is read once per choice)."""
    return registry.get(domain_key).upload_fields(name, _payload, dict(chosen))


@st.cache_resource(show_spinner="Loading model...", max_entries=8)
def predictor_from_checkpoint(domain_key: str, path: str) -> Predictor:
    return registry.open_predictor(registry.get(domain_key), Path(path), device())


@st.cache_resource(show_spinner="Preparing the default model (first use only)...", max_entries=8)
def predictor_from_spec(domain_key: str, model_key: str) -> Predictor:
    return registry.open_predictor(registry.get(domain_key), model_key, device())


@st.cache_resource(show_spinner=False, max_entries=32)
def signature(data_id: str, _data: DomainData) -> dict[str, Any]:
    """The dataset's signature (what checkpoints are matched against): once per dataset, not per rerun."""
    return data_signature(_data)


@st.cache_resource(show_spinner="Evaluating...", max_entries=32)
def evaluation(
    domain_key: str, model_id: str, data_id: str, threshold: float | None, _predictor: Predictor, _data: DomainData,
    split: str, options: tuple[tuple[str, Any], ...],
) -> Report:
    """``threshold`` (the one ``_predictor`` decides at, or None) keys the result with the model."""
    return registry.get(domain_key).evaluate(_predictor, _data, split=split, options=dict(options))


@st.cache_resource(show_spinner=False, max_entries=32)
def evaluation_charts(domain_key: str, model_id: str, data_id: str, threshold: float | None, split: str,
                      options: tuple[tuple[str, Any], ...], _report: Report) -> dict[str, go.Figure]:
    """The evaluation's figures, drawn once per evaluation (keyed as ``evaluation``), not per rerun."""
    return registry.get(domain_key).charts(_report)


@st.cache_resource(show_spinner=False, max_entries=64)
def text_prediction(domain_key: str, model_id: str, text: str,
                    _predictor: Predictor) -> tuple[dict[str, Any], go.Figure]:
    """One text's output row and its class-probability chart, once per model and text."""
    row = _predictor.predict(pl.DataFrame({"text": [text]})).row(0, named=True)
    return row, probability_bars({k.removeprefix("p_"): v for k, v in row.items() if k.startswith("p_")})


@st.cache_resource(show_spinner=False, max_entries=64)
def attribution_figure(domain_key: str, model_id: str, text: str, _attribution: TextAttribution) -> go.Figure | None:
    """The chart of a text's word attributions (None when no word was attributed)."""
    words = _attribution.frame()
    return attribution_chart(words, _attribution.label) if words.height else None


@st.cache_resource(show_spinner="Drawing the data overview...", max_entries=16)
def explore_figures(domain_key: str, data_id: str, _data: DomainData) -> dict[str, go.Figure]:
    """Overview charts of a dataset: computed once per dataset, not on every rerun."""
    return registry.get(domain_key).explore(_data)


@st.cache_resource(show_spinner="Computing global importance...", max_entries=16)
def global_importance(domain_key: str, model_id: str, data_id: str, _explainer: Explainer,
                      _data: DomainData) -> go.Figure:
    """The chart of the model's mean absolute contributions over the dataset."""
    return importance_chart(_explainer.global_importance(_data.frame), domain_key)


@st.cache_resource(show_spinner=False, max_entries=64)
def single_prediction(domain_key: str, model_id: str, threshold: float | None, inputs: tuple[tuple[str, Any], ...],
                      _predictor: Predictor) -> tuple[dict[str, Any], go.Figure | None]:
    """One what-if input's output row and, for an explainer, its waterfall chart: computed when
    the inputs (or the model, or its threshold) change, not on every rerun."""
    batch = pl.DataFrame([dict(inputs)])
    row = _predictor.predict(batch).row(0, named=True)
    chart = waterfall_chart(_predictor.explain(batch), domain_key) if isinstance(_predictor, Explainer) else None
    return row, chart


@st.cache_resource(show_spinner=False, max_entries=32)
def image_prediction(domain_key: str, model_id: str, threshold: float | None, digest: str,
                     _predictor: Predictor, _row: pl.DataFrame) -> tuple[dict[str, Any], go.Figure | None]:
    """One image's output row and, for an explainer, its Grad-CAM overlay, once per model,
    threshold and image (``digest`` of its pixels and shape)."""
    result = _predictor.predict(_row).row(0, named=True)
    if not isinstance(_predictor, ImageExplainer):
        return result, None
    explanation = _predictor.explain_image(_row)[0]
    title = f"Grad-CAM toward '{explanation.label}' (P = {explanation.probability:.3f})"
    return result, overlay_figure(explanation.image, explanation.heatmap, title)


@st.cache_resource(show_spinner="Projecting item embeddings...", max_entries=8)
def item_map(model_id: str, _predictor: Recommender) -> go.Figure:
    """The chart of every item placed by its embedding: projected and drawn once per model."""
    return item_map_chart(_predictor.item_map(), _predictor.item_noun)


@st.cache_resource(show_spinner=False, max_entries=64)
def user_profile(domain_key: str, data_id: str, user: str,
                 _data: DomainData) -> tuple[pl.DataFrame, dict[str, go.Figure]]:
    """A user's history and its charts, once per dataset and user."""
    domain = registry.get(domain_key)
    assert isinstance(domain, HasUserProfiles), f"{domain_key} does not describe users"
    return domain.user_profile(_data, user)


@st.cache_resource(show_spinner="Explaining...", max_entries=64)
def text_explanation(domain_key: str, model_id: str, text: str, _predictor: Predictor) -> TextAttribution:
    domain = registry.get(domain_key)
    assert isinstance(domain, HasTextInputs), f"{domain_key} does not explain texts"
    return domain.explain_text(_predictor, text)


@st.cache_resource(show_spinner="Opening the image...", max_entries=8, ttl=UPLOAD_TTL_S)
def study(domain_key: str, name: str, payload: bytes) -> Study:
    """A decoded image or DICOM study (read-only, shared by sessions that upload the same bytes)."""
    domain = registry.get(domain_key)
    assert isinstance(domain, HasStudies), f"{domain_key} does not open image studies"
    return domain.open_study(name, payload)


@st.cache_resource(show_spinner="Converting the model for the chosen decoder (first use only)...", max_entries=8)
def decoded(model_id: str, src: str, tgt: str, decoder: str,
            _translator: Translator) -> tuple[Translator, Scoring | None]:
    """A translator switched to another decoder (e.g. CTranslate2 int8), with the check's
    verdict: converted once per model, pair and decoder, and shared by every session."""
    return _translator.with_decoder(decoder)
