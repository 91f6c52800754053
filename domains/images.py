"""Decoding image files for image domains: PNG/JPEG/BMP/TIFF through Pillow and DICOM
through pydicom, into one ``Study`` type (frames, display window, header fields).

Everything a user uploads ends up as 8-bit pixels: DICOM via window/level, 16-bit
PNGs via a percentile stretch. Huge images are downscaled while decoding, never
rejected. Problems raise ``DataError`` with a message saying what to do.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from PIL import Image

from domains.base import DataError

MAX_SIDE = 1024  # decoded images are downscaled to this: plenty for display and models
MAX_PIXELS = 400_000_000  # refuse beyond this (decompression bombs), downscale below it
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DICOM_SUFFIXES = (".dcm", ".dicom")

# Identifying fields (names, ids, birth dates) are never shown.
HEADER_FIELDS = {
    "Modality": "modality",
    "BodyPartExamined": "body part",
    "StudyDate": "study date",
    "PhotometricInterpretation": "photometric",
    "Rows": "rows",
    "Columns": "columns",
    "NumberOfFrames": "frames",
    "BitsStored": "bits stored",
    "Manufacturer": "manufacturer",
}


@dataclass
class Study:
    """One decoded file: ``frames`` is ``(F, H, W)`` or ``(F, H, W, 3)`` in modality units
    (DICOM) or 0..255 (pictures); ``window`` is the default (center, width)."""

    name: str
    frames: np.ndarray
    window: tuple[float, float]
    invert: bool = False
    header: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return int(self.frames.shape[0])

    @cached_property  # the window sliders ask on every rerun; a study never changes
    def value_range(self) -> tuple[float, float]:
        return float(self.frames.min()), float(self.frames.max())

    def row(self, ident: str, frame: int = 0, window: tuple[float, float] | None = None, label: int | None = None,
            split: str = "input") -> dict[str, object]:
        """One frame, windowed to 8 bits, as a row of the image frame schema (notes kept)."""
        return pixels_row(ident, self.render(frame, window), label, split, note="; ".join(self.notes))

    def render(self, frame: int = 0, window: tuple[float, float] | None = None) -> np.ndarray:
        """8-bit pixels of one frame under ``window`` (DICOM's linear VOI function)."""
        center, width = window or self.window
        pixels = self.frames[min(max(frame, 0), self.frame_count - 1)].astype(np.float32)
        low = center - width / 2
        out = np.clip((pixels - low) / max(width, 1e-6), 0.0, 1.0)
        if self.invert:  # MONOCHROME1: high values are dark
            out = 1.0 - out
        return (out * 255.0 + 0.5).astype(np.uint8)


def sniff(name: str, payload: bytes) -> str:
    """``dicom``, ``image`` or ``npz`` from the bytes (suffixes lie), else a clear error."""
    if len(payload) >= 132 and payload[128:132] == b"DICM":
        return "dicom"
    if payload[:8] == b"\x89PNG\r\n\x1a\n" or payload[:3] == b"\xff\xd8\xff" or payload[:2] == b"BM" \
            or payload[:4] in (b"II*\x00", b"MM\x00*"):
        return "image"
    if payload[:4] == b"PK\x03\x04" and name.lower().endswith(".npz"):
        return "npz"
    if name.lower().endswith(DICOM_SUFFIXES):
        return "dicom"  # DICOM without the preamble; pydicom decides
    raise DataError(f"{name} is not an image DomainLens can read: use PNG, JPEG, BMP, TIFF or DICOM "
                    "(or a MedMNIST .npz).")


def open_study(name: str, payload: bytes) -> Study:
    kind = sniff(name, payload)
    if kind == "dicom":
        return read_dicom(name, payload)
    if kind == "npz":
        raise DataError(f"{name} is an image archive; load it as a dataset instead.")
    pixels, notes = read_picture(name, payload)
    return Study(name, pixels[None].astype(np.float32), window=(127.5, 255.0), notes=notes)


def read_picture(name: str, payload: bytes) -> tuple[np.ndarray, list[str]]:
    """``(H, W)`` or ``(H, W, 3)`` uint8 plus notes on what was changed. 16-bit and float
    images are stretched to 8 bits between their 0.5th and 99.5th percentiles; huge
    images are downscaled on decode."""
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            img = Image.open(io.BytesIO(payload))
            original = img.size
            if img.format == "JPEG":
                img.draft("RGB" if img.mode != "L" else "L", (MAX_SIDE, MAX_SIDE))  # decode at reduced scale
            img.load()
    except Image.DecompressionBombError as exc:
        raise DataError(f"{name} has more than {MAX_PIXELS:,} pixels; downscale it before uploading.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{name} could not be decoded ({exc}); the file is truncated or corrupt.") from exc
    if max(img.size) > MAX_SIDE:
        resample = Image.Resampling.LANCZOS if img.mode in ("L", "RGB") else Image.Resampling.BILINEAR
        img.thumbnail((MAX_SIDE, MAX_SIDE), resample)  # in place, keeps the aspect ratio
    if max(original) > MAX_SIDE:
        notes.append(f"downscaled from {original[0]}x{original[1]} to {img.size[0]}x{img.size[1]}")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        notes.append(f"{img.mode} image stretched to 8 bits")
        return stretch_to_uint8(np.asarray(img, dtype=np.float32)), notes
    if img.mode not in ("L", "RGB"):
        return np.asarray(img.convert("L" if img.mode in ("1", "LA") else "RGB"), dtype=np.uint8), notes
    return np.asarray(img, dtype=np.uint8), notes


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, [0.5, 99.5])
    scaled = np.clip((values - low) / max(float(high - low), 1e-6), 0.0, 1.0)
    return (scaled * 255.0 + 0.5).astype(np.uint8)


def read_dicom(name: str, payload: bytes) -> Study:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(payload), force=name.lower().endswith(DICOM_SUFFIXES))
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{name} is not a readable DICOM file ({exc}).") from exc
    if "PixelData" not in ds:
        raise DataError(f"{name} is DICOM but has no pixel data (for example a report or a header-only "
                        "file); upload an image series instead.")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises RuntimeError/NotImplementedError per missing codec
        syntax_name = getattr(syntax, "name", str(syntax))
        raise DataError(
            f"{name} is compressed with '{syntax_name}', which this installation cannot decode. Install "
            "the matching pydicom plugin (e.g. 'pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg', or "
            "'pip install python-gdcm') or export the "
            "study uncompressed."
        ) from exc
    frames = _as_frames(ds, np.asarray(pixels))
    header = {label: _text(ds.get(keyword)) for keyword, label in HEADER_FIELDS.items() if keyword in ds}
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is not None:
        header["pixel spacing (mm)"] = " x ".join(f"{float(v):.3f}" for v in spacing)
    header["transfer syntax"] = getattr(syntax, "name", str(syntax))
    return Study(name, frames, window=_default_window(ds, frames),
                 invert=str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1", header=header)


def _as_frames(ds: Any, pixels: np.ndarray) -> np.ndarray:
    """Modality values (rescale slope/intercept applied) as ``(F, H, W[, 3])`` floats."""
    from pydicom.pixels import apply_modality_lut

    photometric = str(getattr(ds, "PhotometricInterpretation", ""))
    samples = int(getattr(ds, "SamplesPerPixel", 1))
    frames_n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        pixels = apply_color_lut(pixels, ds)
        samples = 3
    elif samples == 1:
        pixels = apply_modality_lut(pixels, ds)
    elif photometric.startswith("YBR"):
        from pydicom.pixels import convert_color_space

        pixels = convert_color_space(pixels, photometric, "RGB")
    values = np.asarray(pixels, dtype=np.float32)
    if frames_n == 1:
        values = values[None]
    if samples == 3 and values.max() > 255:  # 16/32-bit colour: bring to the 8-bit range
        values = values / values.max() * 255.0
    return values


def _default_window(ds: Any, frames: np.ndarray) -> tuple[float, float]:
    center, width = getattr(ds, "WindowCenter", None), getattr(ds, "WindowWidth", None)
    if center is not None and width is not None and frames.ndim == 3:
        return _first(center), max(_first(width), 1.0)
    low, high = np.percentile(frames, [0.5, 99.5])
    return float((low + high) / 2), max(float(high - low), 1.0)


def _first(value: Any) -> float:
    """DICOM multi-valued fields (several windows) come as sequences: take the first."""
    return float(value[0]) if hasattr(value, "__len__") and not isinstance(value, str) else float(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "__len__") and not isinstance(value, str | bytes) and len(value) > 1:
        return ", ".join(str(v) for v in value)
    return str(value)


def pixels_row(ident: str, pixels: np.ndarray, label: int | None = None, split: str = "input",
               note: str = "") -> dict[str, object]:
    """One row of the image frame schema (see ``image_frame``)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
    return {"id": ident, "pixels": pixels.tobytes(), "height": int(pixels.shape[0]), "width": int(pixels.shape[1]),
            "channels": channels, "label": label, "split": split, "note": note}


IMAGE_SCHEMA = {"id": pl.String, "pixels": pl.Binary, "height": pl.Int32, "width": pl.Int32,
                "channels": pl.Int32, "label": pl.Int32, "split": pl.String, "note": pl.String}


def image_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Images as a polars frame: raw uint8 ``pixels`` (row-major H x W x C) plus shape."""
    return pl.DataFrame(rows, schema=IMAGE_SCHEMA)


def frame_pixels(row: dict[str, object]) -> np.ndarray:
    """Back from a frame row to ``(H, W)`` or ``(H, W, C)`` uint8."""
    h, w, c = int(row["height"]), int(row["width"]), int(row["channels"])  # type: ignore[call-overload]
    flat = np.frombuffer(row["pixels"], dtype=np.uint8)  # type: ignore[call-overload]
    return flat.reshape((h, w) if c == 1 else (h, w, c))


def read_image_file(path: Path) -> Study:
    return open_study(path.name, path.read_bytes())
