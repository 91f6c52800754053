"""Predict for image domains: pick a dataset image, upload a PNG/JPEG/DICOM or try a
DICOM sample; window/level and frame controls for DICOM; prediction with a Grad-CAM
overlay beside the input. Batch: many files (or an .npz) scored with a download."""

from __future__ import annotations

import hashlib

import polars as pl
import streamlit as st

from dashboard import resources
from dashboard.state import kept
from dashboard.views.batch import scored_batch, show_last
from dashboard.views.common import PageContext, chart, download_buttons, table
from domains.base import Predictor
from domains.capabilities import HasStudies, ImageExplainer, Thresholded
from domains.charts import study_figure
from domains.images import Study
from domains.io import MAX_UPLOAD_MB
from domains.labels import display_name, format_value

DISCLAIMER = "Not for diagnostic use: DomainLens shows how a model behaves; it is not a medical device."
FILE_TYPES = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "dcm", "dicom"]
SOURCES = {"dataset": "From the dataset", "upload": "Upload an image or DICOM", "sample": "Try a DICOM sample"}


def render(ctx: PageContext, domain: HasStudies, predictor: Predictor) -> None:
    st.caption(DISCLAIMER)
    key = f"{ctx.domain.key}-image"
    source = st.radio("Image", list(SOURCES), format_func=SOURCES.__getitem__, horizontal=True, **kept(f"{key}-src"))
    study = None
    if source == "dataset":
        row = _dataset_row(ctx, key)
    else:
        study = _upload(ctx, key) if source == "upload" else _sample(ctx, domain, key)
        if study is None:
            return
        row = _study_controls(domain, study, key)
    for note in domain.scope_notes(predictor, ctx.data, row, study):  # before any verdict
        st.warning(note, icon=":material/warning:")
    _prediction(ctx, predictor, row, key)


def _dataset_row(ctx: PageContext, key: str) -> pl.DataFrame:
    frame = ctx.data.frame
    left, right = st.columns(2)
    splits = frame["split"].unique(maintain_order=True).to_list()
    split = left.selectbox("Split", splits, index=len(splits) - 1, **kept(f"{key}-split"))
    part = frame.filter(pl.col("split") == split)
    index = right.number_input(f"Image (0-{part.height - 1})", 0, max(part.height - 1, 0), 0, **kept(f"{key}-index"))
    return part.slice(int(index), 1)


def _upload(ctx: PageContext, key: str) -> Study | None:
    upload = st.file_uploader(f"PNG, JPEG, BMP, TIFF or DICOM (max {MAX_UPLOAD_MB} MB)", type=FILE_TYPES,
                              key=f"{key}-file")
    if upload is None:
        return None
    return resources.study(ctx.domain.key, upload.name, upload.getvalue())


def _sample(ctx: PageContext, domain: HasStudies, key: str) -> Study | None:
    samples = domain.sample_studies()
    if not samples:
        st.info("The DICOM samples (pydicom-data) are not installed.")
        return None
    title = st.selectbox("Sample study (pydicom-data)", list(samples), **kept(f"{key}-sample"))
    path = samples[title]
    return resources.study(ctx.domain.key, path.name, path.read_bytes())


def _study_controls(domain: HasStudies, study: Study, key: str) -> pl.DataFrame:
    """Header fields, frame scrolling and window/level; returns the model's input row."""
    for note in study.notes:
        st.info(f"{study.name}: {note}.")
    if study.header:
        with st.expander("DICOM header (identifying fields are never shown)", expanded=False):
            st.dataframe(pl.DataFrame({"field": list(study.header), "value": list(study.header.values())}),
                         hide_index=True, width="stretch")
    frame = 0
    if study.frame_count > 1:
        frame = st.slider("Frame", 0, study.frame_count - 1, 0, **kept(f"{key}-{study.name}-frame"))
    window = study.window
    if study.header:  # DICOM: values are in modality units, so the window matters
        low, high = study.value_range
        span = max(high - low, 1.0)
        c1, c2 = st.columns(2)
        center = c1.slider("Window level (center)", float(low), float(high), float(min(max(window[0], low), high)),
                           **kept(f"{key}-{study.name}-center"))
        width = c2.slider("Window width", 1.0, float(span * 2), float(min(window[1], span * 2)),
                          **kept(f"{key}-{study.name}-width"))
        window = (center, width)
    st.plotly_chart(study_figure(study.render(frame, window), f"{study.name} (frame {frame + 1}/{study.frame_count})"),
                    width="stretch", key=f"{key}-study")
    return domain.study_frame(study, frame, window)


def _prediction(ctx: PageContext, predictor: Predictor, row: pl.DataFrame, key: str) -> None:
    threshold = predictor.threshold if isinstance(predictor, Thresholded) else None
    shape = row.select("height", "width", "channels").row(0)
    digest = hashlib.sha256(row["pixels"][0] + repr(shape).encode()).hexdigest()
    result, overlay = resources.image_prediction(ctx.domain.key, ctx.model_id, threshold, digest, predictor, row)
    cols = st.columns(4)
    cols[0].metric("Prediction", str(result["prediction"]))
    cols[1].metric(display_name("score", ctx.domain.key), format_value("score", result["score"], ctx.domain.key))
    cols[2].metric("Confidence", f"{result['confidence']:.1%}")
    cols[3].metric("Flagged for review", "yes" if result["flagged"] else "no")
    if result.get("input_note"):
        st.caption(f"Input converted for the model: {result['input_note']}.")
    if "label" in row.columns and row["label"][0] is not None:
        labels = predictor.labels if isinstance(predictor, ImageExplainer) else ()
        truth = row["label"][0]
        st.caption(f"Recorded label: {labels[truth] if truth < len(labels) else truth}")
    if overlay is not None:
        chart(overlay, key=f"{key}-cam", domain=ctx.domain.key)


def batch(ctx: PageContext, domain: HasStudies, predictor: Predictor) -> None:
    uploads = st.file_uploader(f"Images, DICOM files or one MedMNIST .npz (max {MAX_UPLOAD_MB} MB each)",
                               type=[*FILE_TYPES, "npz"], accept_multiple_files=True, key=f"{ctx.domain.key}-batch")
    if not uploads:
        show_last(ctx, lambda scored: _show_images(ctx, scored))
        return
    frames, problems = [], []
    for upload in uploads:
        try:
            if upload.name.lower().endswith(".npz"):
                frames.append(resources.uploaded_data(ctx.domain.key, upload.name, upload.getvalue(), ()).frame)
            else:
                frames.append(domain.study_frame(resources.study(ctx.domain.key, upload.name, upload.getvalue())))
        except Exception as exc:  # one bad file must not lose the others
            problems.append(f"{upload.name}: {exc}")
    for problem in problems:
        st.warning(problem)
    if not frames:
        return
    inputs = pl.concat(frames, how="vertical_relaxed")
    digest = hashlib.sha256(b"".join(hashlib.sha256(u.getvalue()).digest() for u in uploads)).hexdigest()
    names = uploads[0].name if len(uploads) == 1 else f"{len(uploads)} files"
    scored = scored_batch(ctx, predictor, lambda: inputs, names, digest, batch_rows=256)
    if scored is not None:
        _show_images(ctx, scored)


def _show_images(ctx: PageContext, scored: pl.DataFrame) -> None:
    results = scored.drop("pixels", strict=False)
    st.success(f"Scored {results.height:,} images.")
    table(results.head(1000), ctx.domain.key, height=300)
    download_buttons(results, "image_predictions", key=f"{ctx.domain.key}-batch")
