"""Every ``st.cache_*`` call of the dashboard lives here, so what is shared between
sessions (read-only predictors, datasets) is visible in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st
import torch

from domains import preparation, registry
from domains.base import Domain, DomainData, FieldSpec, Predictor, Report
from domains.capabilities import Explainer, HasStudies, HasTextInputs, Recommender, TextAttribution, Translator
from domains.images import Study
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


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server: fit the domains' default models in the background (see
    ``domains.preparation.warm_up``); pages visited meanwhile show the job's progress."""
    preparation.warm_up([registry.get(k) for k in registry.domain_keys()], device())
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


@st.cache_resource(show_spinner="Evaluating...", max_entries=32)
def evaluation(
    domain_key: str, model_id: str, data_id: str, _predictor: Predictor, _data: DomainData, split: str,
    options: tuple[tuple[str, Any], ...],
) -> Report:
    return registry.get(domain_key).evaluate(_predictor, _data, split=split, options=dict(options))


@st.cache_resource(show_spinner="Drawing the data overview...", max_entries=16)
def explore_figures(domain_key: str, data_id: str, _data: DomainData) -> dict[str, go.Figure]:
    """Overview charts of a dataset: computed once per dataset, not on every rerun."""
    return registry.get(domain_key).explore(_data)


@st.cache_resource(show_spinner="Computing global importance...", max_entries=16)
def global_importance(model_id: str, data_id: str, _explainer: Explainer, _data: DomainData) -> pl.DataFrame:
    return _explainer.global_importance(_data.frame)


@st.cache_resource(show_spinner="Projecting item embeddings...", max_entries=8)
def item_map(model_id: str, _predictor: Recommender) -> pl.DataFrame:
    return _predictor.item_map()


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
