"""What the HTTP API needs from the domain contract, without any web framework: which model a
request names, JSON rows turned into the frame ``Predictor.predict`` reads (typed by the
columns the domain declares, images decoded), and predictions turned back into JSON rows.
Problems a caller can fix raise ``RequestError`` with the HTTP status and field to report."""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from domains import registry
from domains.base import DataError, Domain, DomainLensError, Predictor
from domains.capabilities import Explainer, Explanation, HasStudies, HasTextInputs, ImageExplainer, TextAttribution
from domains.columns import Column, ColumnType
from models.checkpoints import artifacts_root, list_bundles

MAX_ROWS = 10_000  # rows one request may carry (DOMAINLENS_API_MAX_ROWS)
POLARS_TYPES: dict[ColumnType, pl.DataType] = {"number": pl.Float64(), "integer": pl.Int64(), "text": pl.String(),
                                          "bool": pl.Boolean(), "list": pl.List(pl.String()),
                                          "bytes": pl.Binary()}


class RequestError(DomainLensError):
    """A request the caller can fix: its HTTP status, and the field at fault where there is one."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def open_model(domain: Domain[Any], model_id: str, device: torch.device) -> Predictor:
    """The model a request names: "" for the domain's default, a menu key (``gbm``), or a saved
    checkpoint as ``<model>/<version>`` under this domain's artifacts (nothing outside them)."""
    if not model_id:
        return registry.open_predictor(domain, domain.models()[0], device)
    if "/" not in model_id:
        try:
            spec = domain.spec(model_id)
        except DataError as exc:  # names the menu's keys
            raise RequestError(f"{exc}; see GET /v1/models", 404, "model") from exc
        return registry.open_predictor(domain, spec, device)
    base = (artifacts_root() / domain.key).resolve()
    folder = (base / model_id).resolve()
    if base not in folder.parents or not (folder / "metadata.json").is_file():
        raise RequestError(f"no checkpoint '{model_id}' for {domain.key}; see GET /v1/models", 404, "model")
    return registry.open_predictor(domain, Path(folder), device)


def checkpoint_ids(domain_key: str) -> list[str]:
    """The ids (``<model>/<version>``) of this domain's saved checkpoints, newest first."""
    return [f"{b.model}/{b.version}" for b in list_bundles(domain_key)]


def rows_frame(domain: Domain[Any], declared: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """JSON rows as the frame the predictor reads: every ``declared`` input (``Domain.inputs``,
    worked out once per model by the caller) typed as declared, a required one missing or of the
    wrong type refused (422, naming it), images sent as base64 files (``image``, with an optional
    ``name``) decoded for domains that open studies."""
    if not rows:
        raise RequestError("'rows' is empty: send at least one row", 422, "rows")
    if len(rows) > MAX_ROWS:
        raise RequestError(f"{len(rows):,} rows in one request; at most {MAX_ROWS:,} (split it)", 413, "rows")
    if isinstance(domain, HasStudies) and "image" in rows[0]:
        return pl.concat([_image_row(domain, i, row) for i, row in enumerate(rows)], how="vertical_relaxed")
    series = []
    for column in declared:
        present = [row.get(column.name) for row in rows]
        if column.required and all(value is None for value in present) and not column.nullable:
            raise RequestError(f"missing column '{column.name}' ({column.meaning})", 422, column.name)
        if any(column.name in row for row in rows):
            typed = [_typed(column, value, i) for i, value in enumerate(present)]
            series.append(pl.Series(column.name, typed, dtype=POLARS_TYPES.get(column.type, pl.String())))
    return pl.DataFrame(series)


def _typed(column: Column, value: Any, index: int) -> Any:
    """One JSON value as the declared type; ``RequestError`` naming the column and row otherwise."""
    if value is None:
        if column.nullable or not column.required:
            return None
        raise RequestError(f"row {index}: '{column.name}' is empty but required ({column.meaning})", 422, column.name)
    kind = column.type
    ok = {"number": isinstance(value, int | float) and not isinstance(value, bool),
          "integer": (isinstance(value, int) and not isinstance(value, bool)) or
          (isinstance(value, float) and value.is_integer()),
          "text": isinstance(value, str), "bool": isinstance(value, bool),
          "list": isinstance(value, list), "bytes": isinstance(value, str)}.get(kind, True)
    if not ok:
        raise RequestError(f"row {index}: '{column.name}' should be {_WORDS[kind]}, got {type(value).__name__}",
                           422, column.name)
    if column.choices and kind in ("text", "integer") and value not in column.choices and \
            str(value) not in {str(c) for c in column.choices}:
        shown = ", ".join(map(str, column.choices[:10]))
        raise RequestError(f"row {index}: '{column.name}' = {value!r} is not one of: {shown}", 422, column.name)
    if kind == "integer":
        return int(value)
    if kind == "list":
        return [str(v) for v in value]
    if kind == "bytes":
        return _b64(value, column.name, index)
    return value


_WORDS = {"number": "a number", "integer": "a whole number", "text": "a string", "bool": "true or false",
          "list": "a list", "bytes": "base64 text", "struct": "an object"}


def _b64(value: str, field: str, index: int) -> bytes:
    try:
        return base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"row {index}: '{field}' is not valid base64", 422, field) from exc


def _image_row(domain: HasStudies, index: int, row: Mapping[str, Any]) -> pl.DataFrame:
    """One request row carrying an image file (PNG, JPEG, BMP, TIFF or DICOM) as base64."""
    if not isinstance(row.get("image"), str):
        raise RequestError(f"row {index}: 'image' should be a base64 file (PNG, JPEG or DICOM)", 422, "image")
    name = str(row.get("name") or f"image-{index}.png")
    try:
        study = domain.open_study(name, _b64(row["image"], "image", index))
    except RequestError:
        raise
    except DomainLensError as exc:
        raise RequestError(f"row {index}: {exc}", 422, "image") from exc
    return domain.study_frame(study)


def json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Predictions as JSON-safe rows: raw bytes left out, NaN and infinities as null."""
    kept = frame.select(pl.exclude(pl.Binary))
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in kept.to_dicts()]


MAX_EXPLAIN_ROWS = 16  # explanations cost many model calls each: a request explains at most this many rows


def explanations(domain: Domain[Any], predictor: Predictor, frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Why the model said what it did, one JSON object per row, in the form the domain explains:
    additive feature contributions (credit), word attributions (text), a Grad-CAM heatmap over
    the image as a PNG data URL (imaging). ``RequestError`` (404) for a domain that does not explain."""
    if frame.height > MAX_EXPLAIN_ROWS:
        raise RequestError(f"{frame.height} rows to explain; at most {MAX_EXPLAIN_ROWS} per request", 413, "rows")
    if isinstance(predictor, ImageExplainer):
        return [{"label": e.label, "probability": e.probability, "method": "Grad-CAM",
                 "heatmap_png": heatmap_png(e.image, e.heatmap)} for e in predictor.explain_image(frame)]
    if isinstance(domain, HasTextInputs):
        texts = frame["text"].to_list() if "text" in frame.columns else []
        return [_words(domain.explain_text(predictor, text)) for text in texts]
    if isinstance(predictor, Explainer):
        return [_contributions(predictor.explain(frame.slice(i, 1))) for i in range(frame.height)]
    raise RequestError(f"{domain.title} models do not explain single predictions", 404, "domain")


def _contributions(explained: Explanation) -> dict[str, Any]:
    """Each input's push on the output, largest first: ``base + sum(contribution) == output``."""
    return {"base_value": explained.base_value, "output_value": explained.output_value, "space": explained.space,
            "contributions": json_rows(explained.frame.with_columns(pl.col("value").cast(pl.String)))}


def _words(attribution: TextAttribution) -> dict[str, Any]:
    return {"label": attribution.label, "probability": attribution.probability, "method": attribution.method,
            "truncated": attribution.truncated, "words": json_rows(attribution.frame())}


def heatmap_png(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> str:
    """The image in grey under its heatmap (blue cold to red hot), as a PNG data URL."""
    from PIL import Image

    grey = np.asarray(image, dtype=np.float32)
    grey = grey.mean(axis=2) if grey.ndim == 3 else grey
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    # A jet-like ramp: each channel a triangle over the heat value.
    ramp = np.stack([np.clip(1.5 - np.abs(4 * heat - c), 0, 1) for c in (3.0, 2.0, 1.0)], axis=-1) * 255
    blended = (1 - opacity) * np.repeat(grey[..., None], 3, axis=2) + opacity * ramp
    buffer = io.BytesIO()
    Image.fromarray(blended.clip(0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
