"""Predict: one applicant (form, what-if, explanation) and batch upload with export."""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl
import streamlit as st

from dashboard import resources
from dashboard.errors import guarded
from dashboard.state import kept
from dashboard.views import batch, image, ray_batch, recommend, text, translate
from dashboard.views.common import PageContext, chart, download_buttons, need_model, table, threshold_key
from domains.base import FieldSpec, Predictor
from domains.capabilities import Explainer, HasStudies, HasTextInputs, Recommender, Thresholded, Translator
from domains.io import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, read_table_bytes
from domains.labels import display_name, format_value, outside_training_range


def render(ctx: PageContext) -> None:
    predictor = need_model(ctx, "predict")
    if predictor is None:
        return
    _threshold_slider(ctx, predictor)
    studies = ctx.domain if isinstance(ctx.domain, HasStudies) else None
    texts = ctx.domain if isinstance(ctx.domain, HasTextInputs) else None
    if isinstance(predictor, Translator):
        _translation(ctx, predictor)
        return
    if isinstance(predictor, Recommender):
        first = "Recommend"
    elif texts is not None:
        first = "One text (word attributions)"
    else:
        first = "One image (Grad-CAM)" if studies is not None else "Single input (what-if)"
    single, batch = st.tabs([first, "Batch of files" if studies is not None else "Batch file"])
    with single, guarded("Scoring"):
        if isinstance(predictor, Recommender):
            recommend.render(ctx, predictor)
        elif studies is not None:
            image.render(ctx, studies, predictor)
        elif texts is not None:
            text.render(ctx, texts, predictor)
        else:
            _single(ctx, predictor)
    with batch, guarded("Batch scoring"):
        if studies is not None:
            image.batch(ctx, studies, predictor)
        else:
            _batch(ctx, predictor)


def _translation(ctx: PageContext, predictor: Translator) -> None:
    single, batch = st.tabs(["Translate (streaming)", "Documents and tables"])
    with single, guarded("Translation"):
        translate.render(ctx, predictor)
    with batch, guarded("Document translation"):
        translate.batch(ctx, predictor)


def _threshold_slider(ctx: PageContext, predictor: Predictor) -> None:
    """The selected model's decision threshold. The page applies the value to the model before
    any tab draws (``with_user_threshold``), so a move here reaches batch scoring, Live and
    Evaluate on the same rerun."""
    if not isinstance(predictor, Thresholded):
        return
    stored = ctx.stored.threshold if isinstance(ctx.stored, Thresholded) else predictor.threshold
    st.slider("Decision threshold (flag when the score >= threshold)", 0.0, 1.0, step=0.01,
              value=float(predictor.threshold), **kept(threshold_key(ctx.domain.key, ctx.model_id, ctx.data_id)),
              help=f"Each model starts at the threshold stored with it (this one: {stored:.2f}, chosen on its "
                   "validation data). Live, batch scoring and Evaluate use the value set here.")


def _single(ctx: PageContext, predictor: Predictor) -> None:
    fields = ctx.domain.input_fields(predictor, ctx.data)
    frame = ctx.data.frame
    row_key = f"{ctx.domain.key}-{ctx.data_id}-row"
    start = st.number_input("Start from row of the dataset", 0, max(frame.height - 1, 0), 0, **kept(row_key),
                            help="Prefills the form; edit any field and the prediction updates (what-if).")
    base = frame.row(int(start), named=True) if frame.height else {}
    values: dict[str, Any] = {}
    columns = st.columns(3)
    for i, field in enumerate(fields):
        with columns[i % 3]:
            values[field.name] = _widget(ctx, field, base.get(field.name), f"{row_key}-{start}-{field.name}")
    for warning in outside_training_range(fields, values, ctx.domain.key):
        st.warning(warning, icon=":material/warning:")
    threshold = predictor.threshold if isinstance(predictor, Thresholded) else None
    result, waterfall = resources.single_prediction(ctx.domain.key, ctx.model_id, threshold, tuple(values.items()),
                                                    predictor)
    cols = st.columns(len(result))
    for col, (name, value) in zip(cols, result.items(), strict=True):
        col.metric(display_name(name, ctx.domain.key), format_value(name, value, ctx.domain.key))
    if waterfall is not None and isinstance(predictor, Explainer):
        chart(waterfall, key=f"{row_key}-waterfall", domain=ctx.domain.key)
        with st.expander("Global importance"):
            chart(resources.global_importance(ctx.domain.key, ctx.model_id, ctx.data_id, predictor, ctx.data),
                  key=f"{row_key}-global", domain=ctx.domain.key)


def _widget(ctx: PageContext, field: FieldSpec, current: Any, key: str) -> Any:
    label = display_name(field.name, ctx.domain.key)
    if field.kind == "category":
        options = list(field.choices)
        if current is not None and str(current) not in options:
            options.append(str(current))
        index = options.index(str(current)) if current is not None else 0
        return st.selectbox(label, options, index=index, **kept(key), help=field.help or None)
    span = f"Seen in training: {field.minimum:,g} to {field.maximum:,g}." if field.minimum is not None and \
        field.maximum is not None else None
    if field.kind in {"number", "integer"}:
        default = current if isinstance(current, int | float) else field.default
        if field.kind == "integer":
            return int(st.number_input(label, value=round(default or 0), step=1, **kept(key), help=span))
        return float(st.number_input(label, value=float(default or 0.0), **kept(key), help=span))
    if field.kind == "bool":
        return st.checkbox(label, value=bool(current if current is not None else field.default), **kept(key))
    return st.text_area(label, value=str(current or field.default or ""), **kept(key))


def _batch(ctx: PageContext, predictor: Predictor) -> None:
    on_ray = ray_batch.enabled() and ray_batch.chosen(ctx)  # before the upload: a file scores on arrival
    upload = st.file_uploader(f"CSV, Parquet or JSONL with the model's input columns (max {MAX_UPLOAD_MB} MB)",
                              type=["csv", "parquet", "jsonl"], key=f"{ctx.domain.key}-batch-upload")
    if upload is None:
        if on_ray:
            ray_batch.show(ctx)
        else:
            batch.show_last(ctx, lambda scored: _show_scored(ctx, scored))
        return
    name, payload = upload.name, upload.getvalue()

    def rows() -> pl.DataFrame:
        return read_table_bytes(name, payload, max_bytes=MAX_UPLOAD_BYTES)

    if on_ray:
        ray_batch.offer(ctx, rows, name, batch.model_name(ctx.model_id))
        ray_batch.show(ctx)
        return
    scored = batch.scored_batch(ctx, predictor, rows, name, hashlib.sha256(payload).hexdigest())
    if scored is not None:
        _show_scored(ctx, scored)


def _show_scored(ctx: PageContext, scored: pl.DataFrame) -> None:
    st.success(f"Scored {scored.height:,} rows.")
    table(scored.head(1000), ctx.domain.key, height=300)
    download_buttons(scored, "predictions", key=f"{ctx.domain.key}-batch")
