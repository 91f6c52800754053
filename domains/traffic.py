"""The prediction log: every prediction the model server returns, as Parquet files partitioned
by domain and hour under ``$DOMAINLENS_HOME/_traffic/`` (``DOMAINLENS_TRAFFIC`` for another
folder, e.g. a mount every replica sees).

    _traffic/credit_risk/20261202-14/part-20261202T140501.123456-<writer>.parquet

One row per predicted input row: ``request_id, time, domain, model, key_id, latency_ms,
inputs, outputs`` (inputs and outputs as JSON objects; raw bytes such as an image's pixels are
left out of the inputs; ``key_id`` is a short digest of the caller's API key, never the key).

A background writer per serving process batches rows and writes them at least every second;
each file is written under a temporary name and renamed, so a reader never sees half a file.
A request is answered only once its rows are queued for the writer: a crash loses at most the
last unflushed second, a graceful stop (``close``) loses nothing. A writer that cannot write
(a full or read-only disk) makes ``append`` fail, and the server answers 503 rather than
serving predictions it cannot log."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from domains.base import DomainLensError
from models.checkpoints import artifacts_root

TRAFFIC_ENV = "DOMAINLENS_TRAFFIC"
RETENTION_ENV = "DOMAINLENS_TRAFFIC_RETENTION_H"  # hours of traffic kept (default a week)
DEFAULT_RETENTION_H = 24 * 7
SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(), "time": pl.Datetime("us", "UTC"), "domain": pl.String(), "model": pl.String(),
    "key_id": pl.String(), "latency_ms": pl.Float64(), "inputs": pl.String(), "outputs": pl.String()}


class TrafficLogError(DomainLensError):
    """The log cannot take rows (its folder is unwritable, full, or the writer fell behind)."""


def traffic_root() -> Path:
    configured = os.environ.get(TRAFFIC_ENV, "").strip()
    return Path(configured).expanduser() if configured else artifacts_root() / "_traffic"


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y%m%d-%H")


@dataclass(frozen=True)
class Answered:
    """One answered request, as the server hands it to the log."""

    request_id: str
    model: str
    key_id: str | None
    latency_ms: float
    inputs: pl.DataFrame
    outputs: pl.DataFrame


def _json_column(frame: pl.DataFrame) -> list[str]:
    kept = frame.select(pl.exclude(pl.Binary))
    return [json.dumps(row, default=str) for row in kept.to_dicts()]


class TrafficLog:
    """The writer for one domain in one process (see the module docstring)."""

    def __init__(self, domain_key: str, *, root: Path | None = None, flush_s: float = 1.0,
                 max_pending_rows: int = 200_000, retention_h: float | None = None) -> None:
        self.domain = domain_key
        self.folder = (root or traffic_root()) / domain_key
        self.flush_s, self.max_pending_rows = flush_s, max_pending_rows
        self.retention_h = retention_h if retention_h is not None else \
            float(os.environ.get(RETENTION_ENV) or DEFAULT_RETENTION_H)
        self.writer_id = uuid.uuid4().hex[:8]
        self.failure: str | None = None
        self.rows_written = 0
        self._pending: list[pl.DataFrame] = []  # one frame per scored batch
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pruned_at = 0.0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".probe-{self.writer_id}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self.failure = f"the prediction log folder {self.folder} is not writable ({exc.strerror or exc})"
        self._thread = threading.Thread(target=self._loop, name=f"domainlens-traffic-{domain_key}", daemon=True)
        self._thread.start()

    def append(self, served: Sequence[Answered]) -> None:
        """Queue these requests' rows; ``TrafficLogError`` when they cannot be logged.

        The server calls this once per scored batch, on its event loop: the rows of every
        request in the batch are turned into JSON together (one pass over each side, not two
        per request, which cost twice the credit model's time for the batch)."""
        if self.failure is not None:
            raise TrafficLogError(f"predictions cannot be logged: {self.failure}")
        if not served:
            return
        for item in served:
            if item.inputs.height != item.outputs.height:
                raise ValueError(f"request {item.request_id}: {item.inputs.height} input rows, "
                                 f"{item.outputs.height} output rows")
        heights = [item.inputs.height for item in served]
        total = sum(heights)

        def per_row(values: list[Any]) -> list[Any]:
            return [value for value, height in zip(values, heights, strict=True) for _ in range(height)]

        batch = pl.DataFrame({
            "request_id": per_row([item.request_id for item in served]), "time": [datetime.now(UTC)] * total,
            "domain": [self.domain] * total, "model": per_row([item.model for item in served]),
            "key_id": per_row([item.key_id for item in served]),
            "latency_ms": per_row([item.latency_ms for item in served]),
            "inputs": _json_column(pl.concat([item.inputs for item in served], how="diagonal_relaxed")),
            "outputs": _json_column(pl.concat([item.outputs for item in served], how="diagonal_relaxed"))},
            schema=SCHEMA)
        with self._lock:
            if self._pending_rows + total > self.max_pending_rows:
                raise TrafficLogError(f"predictions cannot be logged: {self._pending_rows:,} rows are waiting for "
                                      "the disk")
            self._pending.append(batch)
            self._pending_rows += total

    def flush(self) -> None:
        """Write what is queued now (one file per hour it spans)."""
        with self._lock:
            batches, self._pending, self._pending_rows = self._pending, [], 0
        if not batches:
            return
        frame = pl.concat(batches)
        try:
            for (hour,), part in frame.group_by(pl.col("time").dt.strftime("%Y%m%d-%H"), maintain_order=True):
                self._write(str(hour), part)
        except OSError as exc:
            self.failure = f"writing to {self.folder} failed ({exc.strerror or exc})"
            with self._lock:  # keep the rows: a disk that recovers is written on the next try
                self._pending[:0] = batches
                self._pending_rows += frame.height
            return
        self.rows_written += frame.height
        if self.failure is not None and self.failure.startswith("writing"):
            self.failure = None  # the disk took rows again

    def _write(self, hour: str, part: pl.DataFrame) -> None:
        folder = self.folder / hour
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        final = folder / f"part-{stamp}-{self.writer_id}.parquet"
        temporary = folder / f".{final.name}.tmp"
        part.write_parquet(temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.rename(final)  # atomic on one filesystem: readers see all of it or none

    def close(self) -> None:
        """Stop the writer after writing everything queued (a graceful stop loses nothing)."""
        self._stop.set()
        self._thread.join(10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()
            self._prune()

    def _prune(self) -> None:
        """Drop hour folders older than the retention, at most once a minute."""
        if time.monotonic() - self._pruned_at < 60:
            return
        self._pruned_at = time.monotonic()
        oldest = _hour(datetime.now(UTC) - timedelta(hours=self.retention_h))
        for folder in self.folder.iterdir() if self.folder.is_dir() else []:
            if folder.is_dir() and folder.name < oldest:
                shutil.rmtree(folder, ignore_errors=True)


def traffic_files(domain_key: str, *, since: datetime | None = None, root: Path | None = None) -> list[Path]:
    """The domain's complete log files, oldest first (hour folders before ``since`` skipped)."""
    folder = (root or traffic_root()) / domain_key
    if not folder.is_dir():
        return []
    first = _hour(since) if since is not None else ""
    hours = sorted(h for h in folder.iterdir() if h.is_dir() and h.name >= first)
    return [f for h in hours for f in sorted(h.glob("part-*.parquet"))]


def read_traffic(domain_key: str, *, since: datetime | None = None, root: Path | None = None) -> pl.DataFrame:
    """Every logged row of the domain since ``since`` (all of it when None), oldest first."""
    files = traffic_files(domain_key, since=since, root=root)
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    return frame.filter(pl.col("time") >= since) if since is not None else frame


def decoded(rows: pl.DataFrame, column: str) -> pl.DataFrame:
    """A log column of JSON objects (``inputs`` or ``outputs``) as a frame."""
    return pl.DataFrame([json.loads(v) for v in rows[column].to_list()], infer_schema_length=None)


def parse_since(text: str) -> datetime:
    """``30m``, ``2h``, ``1d`` ago, or an ISO time, as an aware UTC datetime."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(seconds=float(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DomainLensError(f"--since {text!r}: give a span such as 30m, 2h or 1d, or an ISO time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

