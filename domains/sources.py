"""Where live events come from: one contract (``EventSource``) the Live tab, the CLI and the
tests share, yielding polars frames as ``Arrival``s.

- ``ReplaySource``: a dataset replayed at a chosen rate (the demo).
- ``TrafficSource``: what the model server answered, read from its prediction log as files
  land (``domains.traffic``); scored already, so nothing is scored again.
- ``FolderSource``: files dropped into a folder (CSV, Parquet, JSON lines; images for imaging),
  each complete file scored once, in arrival order. A file counts once its name has one of
  those suffixes: writers write under another name (``report.csv.tmp``, ``.report.csv``) and
  rename when done. A file with a malformed row is reported with its line and skipped whole.
- ``RedisSource``: a Redis stream read with a consumer group (``XREADGROUP``), so two
  dashboards in one group never count an event twice, and a restarted one first takes back
  what it had read but not finished. Each entry carries one row as JSON in its ``row`` field.

No streamlit here."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from domains.base import DataError, Domain
from domains.capabilities import HasInputReader, HasStudies
from domains.columns import Column
from domains.images import DICOM_SUFFIXES, IMAGE_SUFFIXES
from domains.io import read_table_file
from domains.traffic import decoded, traffic_files, traffic_root
from models.checkpoints import artifacts_root
from models.control import CancelToken
from models.streaming import replay

TABLE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")
REDIS_GROUP = "domainlens"
INBOX_ENV = "DOMAINLENS_INBOX"  # the folder the folder source may read from (default $DOMAINLENS_HOME/_inbox)
REDIS_ENV = "DOMAINLENS_REDIS_URL"

__all__ = ["Arrival", "EventSource", "FolderSource", "RedisSource", "ReplaySource", "TrafficSource", "inbox_folder",
           "inbox_root", "offered", "redis_url", "traffic_root"]


def inbox_root() -> Path:
    configured = os.environ.get(INBOX_ENV, "").strip()
    return Path(configured).expanduser() if configured else artifacts_root() / "_inbox"


def inbox_folder(name: str) -> Path:
    """A folder under the inbox root, by its name there: a browser can only point the server at
    folders meant for arriving files, never at any path the server can read."""
    root = inbox_root().resolve()
    folder = (root / name.strip()).resolve()
    if folder != root and root not in folder.parents:
        raise DataError(f"'{name}' is outside {root}: give the name of a folder in it")
    return folder


def redis_url() -> str:
    return os.environ.get(REDIS_ENV, "").strip() or "redis://127.0.0.1:6379/0"


def offered() -> dict[str, str]:
    """The sources this machine can offer, by key: Redis only with a server to talk to (a
    configured URL, or ``redis-server`` installed here)."""
    found = {"replay": ReplaySource.label, "traffic": TrafficSource.label, "folder": FolderSource.label}
    if redis_available() and (os.environ.get(REDIS_ENV) or shutil.which("redis-server")):
        found["redis"] = RedisSource.label
    return found


@dataclass(frozen=True)
class Arrival:
    """Events that arrived together: their inputs and, when the source scored them already,
    their outputs and the server's time for them."""

    inputs: pl.DataFrame
    outputs: pl.DataFrame | None = None
    latencies_s: tuple[float, ...] = ()  # the server's time per request (scored sources)
    done: Callable[[], None] | None = None  # called once these events reached the monitor


class EventSource(Protocol):
    label: str
    scored: bool  # arrivals carry outputs already (nothing to score)
    batched: bool  # arrivals may be regrouped by the micro-batcher (False: each is acknowledged)

    def arrivals(self, stop: CancelToken) -> Iterator[Arrival]:
        """Events as they arrive, until ``stop`` (or, for a replay without loop, the end)."""
        ...

    def problems(self) -> list[str]:
        """What the page should say now (a skipped file, a server not answering); may be empty."""
        ...


@dataclass
class _Notes:
    """Problems a source reports, the latest last (bounded: a bad folder cannot grow it forever)."""

    limit: int = 20
    items: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: str) -> None:
        with self.lock:
            self.items = [*self.items, message][-self.limit:]

    def clear(self, prefix: str) -> None:
        with self.lock:
            self.items = [m for m in self.items if not m.startswith(prefix)]

    def now(self) -> list[str]:
        with self.lock:
            return list(self.items)


class ReplaySource:
    label = "Replay the dataset"
    scored = False
    batched = True

    def __init__(self, events: pl.DataFrame, *, rows_per_s: float, loop: bool = True) -> None:
        self.events, self.rows_per_s, self.loop = events, rows_per_s, loop

    def arrivals(self, stop: CancelToken) -> Iterator[Arrival]:
        for chunk in replay(self.events, rows_per_s=self.rows_per_s, chunk_rows=1, loop=self.loop, stop=stop):
            yield Arrival(chunk)

    def problems(self) -> list[str]:
        return []


class TrafficSource:
    """The model server's answers for one domain from ``since`` on (default: from now)."""

    label = "Model server traffic"
    scored = True
    batched = False

    def __init__(self, domain_key: str, *, since: datetime | None = None, root: Path | None = None,
                 poll_s: float = 0.5) -> None:
        self.domain_key, self.root, self.poll_s = domain_key, root, poll_s
        self.since = since or datetime.now(UTC)

    def arrivals(self, stop: CancelToken) -> Iterator[Arrival]:
        seen: set[Path] = set()
        while not stop.cancelled:
            for path in traffic_files(self.domain_key, since=self.since, root=self.root):
                if path in seen:
                    continue
                seen.add(path)
                rows = pl.read_parquet(path).filter(pl.col("time") >= self.since)
                if rows.height:
                    per_request = rows.unique("request_id", keep="first", maintain_order=True)["latency_ms"]
                    yield Arrival(decoded(rows, "inputs"), decoded(rows, "outputs"),
                                  tuple(v / 1000 for v in per_request.to_list()))
            stop.wait(self.poll_s)

    def problems(self) -> list[str]:
        return []


def malformed(frame: pl.DataFrame, declared: Sequence[Column]) -> str | None:
    """The first way a file's rows break the declared inputs: a required column missing, or a
    row (by its line in a CSV with a header) whose value is not of the column's type or choices."""
    for column in declared:
        if column.name not in frame.columns:
            if column.required and not column.nullable:
                return f"missing column '{column.name}'"
            continue
        values = frame[column.name]
        if column.type in ("number", "integer") and not values.dtype.is_numeric():
            numbers = values.cast(pl.Float64, strict=False)
            bad = (numbers.is_null() & values.is_not_null()).arg_true()
            if bad.len():
                row = int(bad[0])
                return f"line {row + 2}: '{column.name}' = {values[row]!r} is not a number"
        if column.choices and column.type == "text":
            allowed = {str(c) for c in column.choices}
            bad = (~values.cast(pl.String).is_in(allowed) & values.is_not_null()).arg_true()
            if bad.len():
                row = int(bad[0])
                return f"line {row + 2}: '{column.name}' = {values[row]!r} is not one of {sorted(allowed)[:6]}"
    return None


class FolderSource:
    """Complete files in ``folder``, each scored once, oldest first (see the module docstring)."""

    label = "A folder of arriving files"
    scored = False
    batched = True

    def __init__(self, domain: Domain[Any], folder: Path, declared: Sequence[Column], *, poll_s: float = 0.5) -> None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise DataError(f"the folder {folder} does not exist: create it (or pick another) and Start again")
        self.domain, self.folder, self.declared, self.poll_s = domain, folder, list(declared), poll_s
        self.images = isinstance(domain, HasStudies)  # image files are events too
        self.files_scored = 0
        self._notes = _Notes()

    def _complete(self) -> list[Path]:
        suffixes = TABLE_SUFFIXES + ((*IMAGE_SUFFIXES, *DICOM_SUFFIXES) if self.images else ())
        found = []
        for entry in os.scandir(self.folder):
            name = entry.name
            if entry.is_file() and not name.startswith(".") and name.lower().endswith(suffixes):
                try:
                    found.append((entry.stat().st_mtime_ns, name))
                except FileNotFoundError:
                    continue  # gone between the listing and the look
        return [self.folder / name for _, name in sorted(found)]

    def _read(self, path: Path) -> pl.DataFrame:
        if isinstance(self.domain, HasInputReader):
            return self.domain.read_input(path)
        return read_table_file(path)

    def arrivals(self, stop: CancelToken) -> Iterator[Arrival]:
        seen: set[str] = set()
        while not stop.cancelled:
            for path in self._complete():
                if path.name in seen or stop.cancelled:
                    continue
                seen.add(path.name)
                try:
                    frame = self._read(path)
                except Exception as exc:  # gone, or does not parse: reported, the others go on
                    gone = not path.exists()
                    self._notes.add(f"{path.name} disappeared before it was read; skipped" if gone else
                                    f"{path.name} was skipped, nothing of it scored: {exc}")
                    continue
                problem = None if self.images else malformed(frame, self.declared)
                if problem:
                    self._notes.add(f"{path.name} was skipped, nothing of it scored: {problem}")
                    continue
                if frame.height:
                    self.files_scored += 1
                    yield Arrival(frame)
            stop.wait(self.poll_s)

    def problems(self) -> list[str]:
        return self._notes.now()


def redis_available() -> bool:
    """Whether the Redis source can be offered: the client library is installed (the server
    is the user's, or ``redis-server`` on this machine)."""
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


class RedisSource:
    """Rows from a Redis stream through a consumer group (see the module docstring)."""

    label = "A Redis stream"
    scored = False
    batched = False  # each read is acknowledged once its rows reached the monitor

    def __init__(self, url: str, stream: str, *, group: str = REDIS_GROUP, consumer: str | None = None,
                 count: int = 256, block_ms: int = 500) -> None:
        self.url, self.stream, self.group = url, stream, group
        self.consumer = consumer or f"{socket.gethostname()}-{stream}"
        self.count, self.block_ms = count, block_ms
        self._notes = _Notes()

    def _connect(self) -> Any:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=3)
        try:
            client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:  # the group is there already: join it
            if "BUSYGROUP" not in str(exc):
                raise
        return client

    def arrivals(self, stop: CancelToken) -> Iterator[Arrival]:
        import redis

        client, backlog = None, True  # first what this consumer read before but did not finish
        while not stop.cancelled:
            try:
                if client is None:
                    client = self._connect()
                    self._notes.clear("Redis")
                start = "0" if backlog else ">"
                answer = client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=self.count,
                                           block=None if backlog else self.block_ms)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._notes.clear("Redis")
                self._notes.add(f"Redis at {self.url} is not answering ({exc}); retrying every second")
                client, backlog = None, True
                stop.wait(1.0)
                continue
            entries = answer[0][1] if answer else []
            if backlog and not entries:
                backlog = False
                continue
            rows, ids = [], []
            for entry_id, fields in entries:
                ids.append(entry_id)
                try:
                    row = json.loads(fields.get(b"row") or fields.get("row") or b"")
                    if not isinstance(row, dict):
                        raise ValueError("not a JSON object")
                    rows.append(row)
                except ValueError as exc:
                    self._notes.add(f"entry {entry_id.decode() if isinstance(entry_id, bytes) else entry_id} "
                                    f"skipped: its 'row' field is not a JSON object ({exc})")
            if not ids:
                continue
            if not rows:
                client.xack(self.stream, self.group, *ids)
                continue
            yield Arrival(pl.DataFrame(rows, infer_schema_length=None),
                          done=_acknowledge(client, self.stream, self.group, ids))

    def problems(self) -> list[str]:
        return self._notes.now()


def _acknowledge(client: Any, stream: str, group: str, ids: list[Any]) -> Callable[[], None]:
    def done() -> None:
        client.xack(stream, group, *ids)
    return done

