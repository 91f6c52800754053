"""Reading user tables (CSV, Parquet, JSONL) into polars with messages a user can act on.

Every failure becomes a ``DataError`` that names the problem and the fix; nothing
here unpickles or executes anything from the file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl

from domains.base import DataError
from models.checkpoints import write_text_atomic

# Keep in step with .streamlit/config.toml [server] maxUploadSize (MB); a test checks it.
MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".ndjson", ".json")
_DELIMITERS = ",;\t|"
_NULLS = ["", "NA", "N/A", "na", "n/a", "null", "NULL", "None", "?", "NaN", "nan"]


def read_table_file(path: str | Path) -> pl.DataFrame:
    """Read a table from disk; the format follows the file suffix."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"File not found: {file}. Check the path.")
    return read_table_bytes(file.name, file.read_bytes())


def check_upload_size(name: str, payload: bytes, max_bytes: int | None = MAX_UPLOAD_BYTES) -> None:
    """The upload cap, for every kind of file (``None``: no cap, e.g. files the CLI reads)."""
    if max_bytes is not None and len(payload) > max_bytes:
        raise DataError(
            f"{name} is {len(payload) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB upload limit. "
            "Upload a sample, or use the CLI with --data for large files."
        )


def read_table_bytes(name: str, payload: bytes, *, max_bytes: int | None = None) -> pl.DataFrame:
    """Parse an uploaded or read file. ``max_bytes`` enforces the upload cap."""
    check_upload_size(name, payload, max_bytes)
    if not payload.strip():
        raise DataError(f"{name} is empty. Choose a file with a header row and at least one data row.")
    suffix = Path(name).suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(name, payload)
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return _read_jsonl(name, payload)
    if suffix and suffix not in TABLE_SUFFIXES:
        raise DataError(f"{name}: unsupported file type '{suffix}'. Use CSV, Parquet or JSONL.")
    return _read_csv(name, payload)


def _read_csv(name: str, payload: bytes) -> pl.DataFrame:
    text = decode_text(name, payload)
    delimiter = _sniff_delimiter(text)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=delimiter,
            null_values=_NULLS,
            infer_schema_length=10_000,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{name} is not a well-formed CSV ({first[:160]}). Check that every row has the same "
            "number of fields as the header and that quotes are closed."
        ) from exc
    header = text.splitlines()[0][:80] if text.splitlines() else ""
    if frame.width <= 1 and re.search(r"[^\w.\- ]", header.strip()):
        # One column whose name holds punctuation is almost always an unknown delimiter;
        # a plain name (e.g. a list of user ids) is a legitimate one-column table.
        raise DataError(
            f"{name} has a single column ({header!r}): DomainLens reads comma, semicolon, tab or "
            "pipe separated files with a header row. Check the delimiter and the header."
        )
    if frame.height == 0:
        raise DataError(f"{name} has a header but no data rows.")
    return frame


def is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_text(name: str, payload: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; binary data is refused."""
    head = payload[:8192]
    if b"\x00" in head:
        raise DataError(
            f"{name} is not a text CSV file (it contains binary data; perhaps an Excel, image or "
            "archive file renamed .csv). Export it as CSV or Parquet and try again."
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return payload.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{name} is not UTF-8 or Windows-1252 text. Re-save it as UTF-8 CSV.")


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_parquet(name: str, payload: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(payload))
    except Exception as exc:  # polars raises several types for corrupt files
        raise DataError(f"{name} is not a readable Parquet file ({type(exc).__name__}).") from exc
    if frame.height == 0:
        raise DataError(f"{name} has no rows.")
    return frame


def _read_jsonl(name: str, payload: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(payload), infer_schema_length=10_000)
    except Exception as exc:
        raise DataError(
            f"{name} is not valid JSON Lines (one JSON object per line): {str(exc)[:120]}"
        ) from exc
    if frame.height == 0:
        raise DataError(f"{name} has no rows.")
    return frame


TEXT_COLUMN_NAMES = ("text", "sentence", "review", "content", "body", "document")


def guess_text_column(frame: pl.DataFrame) -> str:
    """The column that most likely holds free text: a usual name, else the string column
    with the longest values on average."""
    lower = {c.lower(): c for c in frame.columns}
    for name in TEXT_COLUMN_NAMES:
        if name in lower:
            return lower[name]
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    if not strings:
        raise DataError(f"No text column among: {', '.join(frame.columns[:20])}. Name one with --text-col.")
    return max(strings, key=lambda c: frame[c].str.len_chars().mean() or 0)


def write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write CSV, Parquet or JSONL by suffix, atomically (temp file + rename)."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    if suffix == ".parquet":
        frame.write_parquet(tmp)
    elif suffix in {".jsonl", ".ndjson", ".json"}:
        frame.write_ndjson(tmp)
    elif suffix in {".csv", ".txt", ""}:
        flat_lists(frame).write_csv(tmp)
    else:
        raise DataError(f"Cannot write '{suffix}' files; use .csv, .parquet or .jsonl.")
    tmp.replace(target)
    return target


def write_text(path: str | Path, text: str) -> Path:
    """Write a UTF-8 text file atomically (temp file + rename), like ``write_table``."""
    return write_text_atomic(Path(path).expanduser(), text)


def flat_lists(frame: pl.DataFrame, separator: str = "; ") -> pl.DataFrame:
    """CSV has no list type: join list columns (e.g. top-k items) into one text cell."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join(separator) for c in lists)
