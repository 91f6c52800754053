"""``domainlens send``: a file replayed as real traffic, at a given rate, into any live source:
the model server (one row per request, as a caller sends them), a folder (files written then
renamed, so a watcher never reads half of one) or a Redis stream (one entry per row, its
``row`` field the row as JSON). What demo showcases and load tests use."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from domains.base import DomainLensError
from domains.client import ApiError, ModelServerClient, request_rows
from models.streaming import replay

Sent = Callable[[int], None]  # told how many rows just went out


def to_server(client: ModelServerClient, domain: str, frame: pl.DataFrame, *, rate: float, model: str = "",
              callers: int = 8, on_sent: Sent | None = None) -> tuple[list[str], list[str]]:
    """Each row as its own request, started on schedule (``rate`` per second) by up to
    ``callers`` at once; the request ids answered, and the errors of those refused."""
    ids: list[str] = []
    errors: list[str] = []

    def one(row: pl.DataFrame) -> None:
        try:
            ids.append(str(client.predict_json(domain, row, model=model)["request_id"]))
        except ApiError as exc:
            errors.append(str(exc))
        if on_sent is not None:
            on_sent(1)

    with ThreadPoolExecutor(max_workers=callers) as pool:
        pending: list[Future[None]] = [pool.submit(one, row) for row in replay(frame, rows_per_s=rate)]
        for future in pending:
            future.result()
    return ids, errors


def to_folder(folder: Path, frame: pl.DataFrame, *, rate: float, rows_per_file: int = 50, stem: str = "events",
              on_sent: Sent | None = None) -> list[Path]:
    """Files of ``rows_per_file`` rows, one after the other at ``rate`` rows a second: CSV, or
    Parquet when a column holds raw bytes (an image's pixels)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DomainLensError(f"the folder {folder} does not exist: create it first")
    suffix = ".parquet" if any(dtype == pl.Binary for dtype in frame.dtypes) else ".csv"
    written = []
    for index, part in enumerate(replay(frame, rows_per_s=rate, chunk_rows=max(1, rows_per_file))):
        final = folder / f"{stem}-{index:05d}{suffix}"
        temporary = folder / f".{final.name}.tmp"
        part.write_parquet(temporary) if suffix == ".parquet" else part.write_csv(temporary)
        temporary.rename(final)
        written.append(final)
        if on_sent is not None:
            on_sent(part.height)
    return written


def to_redis(url: str, stream: str, frame: pl.DataFrame, *, rate: float, chunk_rows: int = 10,
             on_sent: Sent | None = None) -> int:
    """One stream entry per row (``XADD``), sent ``chunk_rows`` at a time on schedule."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    sent = 0
    try:
        for part in replay(frame, rows_per_s=rate, chunk_rows=chunk_rows):
            pipe = client.pipeline(transaction=False)
            for row in request_rows(part):
                pipe.xadd(stream, {"row": json.dumps(row, default=str)})
            pipe.execute()
            sent += part.height
            if on_sent is not None:
                on_sent(part.height)
    except (redis.ConnectionError, OSError) as exc:
        raise DomainLensError(f"Redis at {url} is not answering ({exc}); {sent} rows were sent") from exc
    return sent
