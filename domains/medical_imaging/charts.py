"""Plotly figures for medical images: galleries, Grad-CAM overlays, class balance and
the evaluation set (ROC with the operating point, confusion, calibration)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from domains.base import Report
from domains.charts import _as_rgb, calibration_chart, confusion_chart, roc_chart, styled
from domains.images import frame_pixels


def image_grid(rows: pl.DataFrame, captions: list[str], title: str, columns: int = 6, *,
               wide: bool = False) -> go.Figure:
    """Thumbnails of frame rows (pixels + shape) with a caption each (two short lines at most:
    in half the page a caption has about 150 px); ``wide`` asks the page for a row of its own."""
    n = max(rows.height, 1)
    grid_rows = -(-n // columns)
    fig = make_subplots(rows=grid_rows, cols=columns, subplot_titles=captions or None,
                        horizontal_spacing=0.03, vertical_spacing=min(0.5 / grid_rows, 0.3))
    for i, row in enumerate(rows.iter_rows(named=True)):
        fig.add_trace(go.Image(z=_as_rgb(frame_pixels(row))), row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    styled(fig, title, height=140 + 180 * grid_rows)
    # The captions sit just above the first row: a taller top margin keeps the title clear of them.
    fig.update_layout(margin={"t": 90}, title={"y": 0.98, "yanchor": "top"}, meta={"wide": wide})
    return fig


def class_balance(frame: pl.DataFrame, labels: list[str]) -> go.Figure:
    counts = frame.group_by("split", "label").len().sort("split", "label")
    fig = go.Figure()
    for split in counts["split"].unique(maintain_order=True).to_list():
        part = counts.filter(pl.col("split") == split)
        fig.add_trace(go.Bar(x=[labels[i] for i in part["label"].to_list()], y=part["len"], name=split))
    fig.update_layout(barmode="group", legend_title_text="split")
    fig.update_xaxes(title="class")
    fig.update_yaxes(title="images")
    return styled(fig, "Class balance per split")


def mean_images(frame: pl.DataFrame, labels: list[str]) -> go.Figure:
    """Average image per class: what the classes look like 'on average'."""
    same = frame.filter((pl.col("height") == frame["height"][0]) & (pl.col("width") == frame["width"][0])
                        & (pl.col("channels") == frame["channels"][0]))
    h, w, c = int(same["height"][0]), int(same["width"][0]), int(same["channels"][0])
    present = sorted(same["label"].drop_nulls().unique().to_list())
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=[labels[i] for i in present])
    for col, cls in enumerate(present, start=1):
        part = same.filter(pl.col("label") == cls)["pixels"].to_list()
        stack = np.frombuffer(b"".join(part), dtype=np.uint8).reshape(len(part), h, w, c).mean(axis=0)
        fig.add_trace(go.Image(z=_as_rgb(stack[..., 0] if c == 1 else stack).astype(np.uint8)), row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return styled(fig, "Mean image per class", height=300)


def intensity_histogram(frame: pl.DataFrame, labels: list[str], sample: int = 400) -> go.Figure:
    fig = go.Figure()
    for cls in sorted(frame["label"].drop_nulls().unique().to_list()):
        part = frame.filter(pl.col("label") == cls).head(sample)["pixels"].to_list()
        values = np.frombuffer(b"".join(part), dtype=np.uint8)
        counts = np.bincount(values, minlength=256) / max(len(values), 1)
        fig.add_trace(go.Scatter(x=np.arange(256), y=counts, mode="lines", name=labels[cls]))
    fig.update_xaxes(title="pixel intensity")
    fig.update_yaxes(title="share of pixels")
    return styled(fig, "Pixel intensity by class")


def imaging_charts(report: Report) -> dict[str, go.Figure]:
    figures: dict[str, go.Figure] = {}
    roc = report.frames.get("roc")
    if roc is not None and roc.height:
        operating = report.info.get("operating_point")
        figures["roc"] = roc_chart(roc, report.metrics["auc"], tuple(operating) if operating else None)
    figures["confusion"] = confusion_chart(report.frames["confusion"])
    figures["calibration"] = calibration_chart(report.frames["calibration"])
    per_class = report.frames["per_class"]
    bars = go.Figure([go.Bar(x=per_class["class"], y=per_class[m], name=m) for m in ("precision", "recall", "f1")])
    bars.update_layout(barmode="group")
    bars.update_yaxes(range=[0, 1.02])
    figures["per_class"] = styled(bars, "Per-class precision, recall and F1")
    gallery = report.frames["gallery"]
    if gallery.height:
        captions = [f"{a} → {p}<br>{c:.0%} sure" for a, p, c in
                    zip(gallery["actual"], gallery["predicted"], gallery["confidence"], strict=True)]
        figures["gallery"] = image_grid(gallery, captions, "Most confident mistakes (true → predicted)", wide=True)
    return figures
