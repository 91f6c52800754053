"""Batch scoring on a Ray cluster with Ray Data: read a file, a folder or a glob (local or
any pyarrow filesystem URI such as ``s3://``), score it in micro-batches on a pool of
actors that each load the model once, and write the result as Parquet or CSV files.

Nothing here knows about domains: the caller passes a picklable ``factory`` that, called
once inside each actor, returns the function from a batch (a polars frame) to its scored
rows. Batches cross the Ray boundary as Arrow tables and become polars frames with
``pl.from_arrow`` (Ray Data has no polars batch format).

The single-process path (``models.streaming.score_frame``) stays the default; Ray is used
only when asked for.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from models.control import Progress, ProgressFn
from models.errors import DomainLensError

ScoreFn = Callable[[pl.DataFrame], pl.DataFrame]
POLL_S = 0.5  # how often the driver asks how far the actors are
FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}


def _rows(done: int, total: int | None) -> Progress:
    """Rows scored so far of ``total`` (0 while the total is not known)."""
    return Progress(done, total or 0)


class ClusterError(DomainLensError):
    """The cluster cannot be reached or cannot run the job as asked."""


@dataclass(frozen=True)
class RayOptions:
    """How a job runs. ``actors`` defaults to one less than the cluster's CPUs (at least
    one): actors that hold every CPU leave none for the read and write tasks, and a small
    machine then waits forever (Ray Data's known small-cluster stall)."""

    address: str | None = None  # None: a local Ray instance sized to this machine
    actors: int | None = None
    batch_rows: int = 4096
    cpus_per_actor: float = 1.0
    gpus_per_actor: float | None = None  # None: one GPU per actor when the cluster has GPUs
    output_format: str = "parquet"  # or "csv"
    overwrite: bool = False


def connect(address: str | None, *, object_store_mb: int | None = None, timeout_s: float = 5.0) -> None:
    """Join the cluster at ``address`` (``auto``, ``host:port`` or ``ray://host:10001``), or
    start a local instance (``object_store_mb`` caps its object store). An address that
    does not answer fails within ``timeout_s`` with one clear line instead of Ray's long
    retry loop."""
    import ray

    if address not in (None, "auto"):
        check_reachable(address, timeout_s)
    _quiet()
    if ray.is_initialized():
        return
    settings: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        # Ray sizes the object store itself (30% of memory). A small one makes scored batches
        # spill to disk: 2M credit rows took 28.7 s with 256 MB and 14.3 s with Ray's default.
        # Tests pass a small one (``object_store_mb``) to share the machine.
        store = object_store_mb * 2**20 if object_store_mb else None
        # "local": always a new instance; without it Ray joins whatever cluster `ray start`
        # last left on this machine (and a stale one fails the job).
        ray.init(address="local", num_cpus=os.cpu_count() or 1, object_store_memory=store, **settings)
        return
    try:
        ray.init(address=address, **settings)
    except (ConnectionError, RuntimeError) as exc:
        raise ClusterError(f"could not join the Ray cluster at {address}: {exc}") from exc


def _quiet() -> None:
    """Keep Ray's own chatter off the terminal: DomainLens shows one progress bar and one
    summary line, and Ray's operator tables and notices would bury them (they still go to
    Ray's log files under /tmp/ray)."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Ray Data logs a failed job's traceback before raising it; DomainLens reports it in one line.
    for name, level in (("ray", logging.WARNING), ("ray.data", logging.CRITICAL),
                        ("ray._private.authentication.authentication_token_setup", logging.ERROR)):
        logging.getLogger(name).setLevel(level)
    # The driver's core worker logs a notice per scoring actor (its constructor arguments sit in
    # the object store; Ray Data keeps them alive for the job). Failures still raise in Python.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in ``timeout_s`` with one line when nothing listens at ``address`` (``host:port``,
    ``ray://host:10001`` or a job API's ``http://host:8265``), instead of Ray's retry loop."""
    host_port = re.sub(r"^[a-z]+://", "", address).split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"Ray address {address!r}: give auto, host:port, ray://host:10001 or http://host:8265")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                           "`ray start --head` or check the address") from exc


def input_files(source: str) -> tuple[list[str] | str, str]:
    """What to read and its format. A local file, folder or glob is expanded here (so a
    typo fails before any cluster work); a URI (``s3://...``) is passed to Ray as is."""
    if "://" in source:
        return source, _format_of(source)
    path = Path(source)
    if path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in FORMATS)
    else:
        files = sorted(glob.glob(source)) if any(c in source for c in "*?[") else [source] if path.is_file() else []
    if not files:
        raise ClusterError(f"{source}: no input file found (give a .parquet, .csv or .jsonl file, a folder or a glob)")
    formats = {_format_of(f) for f in files}
    if len(formats) > 1:
        raise ClusterError(f"{source}: mixes {', '.join(sorted(formats))} files; give one format")
    return files, formats.pop()


def _format_of(name: str) -> str:
    suffix = Path(name.split("?", 1)[0]).suffix.lower()
    if suffix not in FORMATS:
        raise ClusterError(f"{name}: unknown file type {suffix or '(none)'}; use .parquet, .csv or .jsonl")
    return FORMATS[suffix]


def head(source: str, rows: int = 5) -> pl.DataFrame | None:
    """The first rows of a local input (to check its columns before any cluster work);
    None for a URI, which only the cluster reads."""
    files, kind = input_files(source)
    if isinstance(files, str):
        return None
    return _scan(files[0], kind).head(rows).collect()  # lazily: a JSON lines file is not read whole


def read(files: list[str] | str, kind: str, *, with_paths: bool = False) -> Any:
    """A Ray Dataset over what ``input_files`` found; ``with_paths`` adds each row's file
    (column ``PATH``), so a batch that fails can name it."""
    import ray

    reader = {"parquet": ray.data.read_parquet, "csv": ray.data.read_csv, "json": ray.data.read_json}[kind]
    return reader(files, include_paths=with_paths)


PATH = "path"  # the column Ray Data's include_paths adds


class BatchFailed(Exception):
    """What an actor could not do: score a batch (with the files its rows came from), or,
    with no rows, open the model at all."""

    def __init__(self, files: list[str], rows: int, reason: str) -> None:
        super().__init__(f"{', '.join(files) or 'a batch'}: {rows} rows could not be scored: {reason}")
        self.files, self.rows, self.reason = files, rows, reason

    def __reduce__(self) -> tuple[Any, ...]:  # crosses from the actor to the driver
        return BatchFailed, (self.files, self.rows, self.reason)


def total_rows(files: list[str] | str, kind: str) -> int | None:
    """Rows in a local input, for the progress bar: Parquet from its footers, CSV and JSON
    lines by a fast scan. None for a URI (only the cluster reads it)."""
    if isinstance(files, str):
        return None
    try:
        return sum(int(_scan(f, kind).select(pl.len()).collect().item()) for f in files)
    except (pl.exceptions.PolarsError, OSError):
        return None  # a file the count cannot read fails in the job itself, with its name


def _scan(path: str, kind: str) -> pl.LazyFrame:
    if kind == "parquet":
        return pl.scan_parquet(path)
    return pl.scan_csv(path) if kind == "csv" else pl.scan_ndjson(path)


class _JobState:
    """A tiny actor the scorers report to: rows scored so far (a batch Ray runs again after
    a lost actor counts twice; the driver caps the count at the total) and the first batch
    that failed (Ray's error on the driver keeps only the actor's traceback text)."""

    def __init__(self) -> None:
        self.rows = 0
        self.failure: BatchFailed | None = None

    def add(self, rows: int) -> None:
        self.rows += rows

    def get(self) -> int:
        return self.rows

    def fail(self, failure: BatchFailed) -> None:
        self.failure = self.failure or failure

    def first_failure(self) -> BatchFailed | None:
        return self.failure


class _Scorer:
    """One per actor: builds the scoring function once, then scores batch after batch."""

    def __init__(self, factory: Callable[[], ScoreFn], state: Any, with_paths: bool = False) -> None:
        self._state = state
        self._with_paths = with_paths
        self._broken: BatchFailed | None = None
        try:
            self._score = factory()
        except Exception as exc:
            # Failing here would make Ray re-create the actor over and over (restarts are
            # unlimited for lost nodes); failing its first batch ends the job at once instead.
            self._broken = BatchFailed([], 0, _first_line(exc))
            self._report(self._broken)

    def _report(self, failure: BatchFailed) -> None:
        import ray

        ray.get(self._state.fail.remote(failure))  # recorded before Ray aborts the job

    def __call__(self, batch: Any) -> Any:
        if self._broken is not None:
            raise self._broken
        paths: list[str] = []
        if self._with_paths:
            paths = sorted(set(batch.column(PATH).to_pylist()))
            batch = batch.drop_columns([PATH])  # the scored rows look like the in-process ones
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        try:
            scored = self._score(frame).to_arrow()
        except Exception as exc:
            failure = BatchFailed(paths, frame.height, _first_line(exc))
            self._report(failure)
            raise failure from exc
        self._state.add.remote(frame.height)  # fire and forget: progress never slows scoring
        return scored


class _Poller:
    """A driver thread that reports the counter's rows to ``on_progress`` every ``POLL_S``
    while the main thread runs the job (and stays free to take Ctrl-C)."""

    def __init__(self, state: Any, total: int | None, on_progress: ProgressFn) -> None:
        self._state, self._total, self._on_progress = state, total, on_progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ray-progress", daemon=True)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import ray

        while not self._stop.wait(POLL_S):
            try:
                rows = int(ray.get(self._state.get.remote(), timeout=5))
            except Exception:  # a missed poll only delays the bar
                continue
            self._on_progress(_rows(min(rows, self._total) if self._total is not None else rows, self._total))


def score(source: str, output: Path, factory: Callable[[], ScoreFn], options: RayOptions, *,
          env: dict[str, str] | None = None, on_progress: ProgressFn | None = None) -> int:
    """Score ``source`` into files under ``output``; returns the number of rows written.
    ``on_progress(Progress(rows_done, total_rows))`` is called from a driver thread as batches finish.

    The result is written beside ``output`` first and moved into place only once every
    row is written, so an interrupted job (Ctrl-C, a failed actor Ray gave up on) never
    leaves a folder that looks complete."""
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not options.overwrite:
        raise ClusterError(f"{output} already holds a result; choose another folder or pass --overwrite")
    files, kind = input_files(source)  # a missing or mixed input fails here, before any cluster work
    connect(options.address)
    partial = output.parent / f".{output.name}.partial-{uuid.uuid4().hex[:8]}"
    total = total_rows(files, kind) if on_progress else None
    # Rows carry their file name while they are scored (unless the input has its own "path").
    first = head(files[0], 1) if isinstance(files, list) else None
    with_paths = first is not None and PATH not in first.columns

    def write(scored: Any) -> None:
        (scored.write_csv if options.output_format == "csv" else scored.write_parquet)(str(partial))

    try:
        failure = _run(lambda: read(files, kind, with_paths=with_paths), write, factory, options, env or {},
                       total, on_progress, with_paths=with_paths)
        if failure is not None:
            raise ClusterError(failure)
        rows = _rows_written(partial, options.output_format)
        if on_progress is not None:
            on_progress(_rows(rows, total))
        if output.exists():
            shutil.rmtree(output)
        os.replace(partial, output)
        return int(rows)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def score_frame_on_ray(frame: pl.DataFrame, columns: list[str], factory: Callable[[], ScoreFn],
                       options: RayOptions, *, env: dict[str, str] | None = None,
                       on_progress: ProgressFn | None = None) -> pl.DataFrame:
    """Score a frame the driver holds and bring ``columns`` of the scored rows back (in the
    order batches finished): the rows travel through the object store, so the cluster needs
    no access to this machine's disk (what ``evaluate`` uses)."""
    import ray

    connect(options.address)
    step = max(1, options.batch_rows)
    blocks = [frame.slice(i, step).to_arrow() for i in range(0, frame.height, step)] or [frame.to_arrow()]
    collected: list[pl.DataFrame] = []

    def collect(scored: Any) -> None:
        for ref in scored.select_columns(columns).to_arrow_refs():
            part = pl.from_arrow(ray.get(ref))
            assert isinstance(part, pl.DataFrame)
            collected.append(part)

    failure = _run(lambda: ray.data.from_arrow(blocks), collect, factory, options, env or {}, frame.height,
                   on_progress)
    if failure is not None:
        raise ClusterError(failure)
    result = pl.concat(collected) if collected else pl.DataFrame()
    if on_progress is not None:
        on_progress(_rows(result.height, frame.height))
    return result


def _run(dataset: Callable[[], Any], consume: Callable[[Any], None], factory: Callable[[], ScoreFn],
         options: RayOptions, env: dict[str, str], total: int | None, on_progress: ProgressFn | None, *,
         with_paths: bool = False) -> str | None:
    """Score ``dataset()`` on an actor pool and hand the scored Dataset to ``consume`` (which
    runs it: a write, or a collection); None when it finished, else why it failed. A failure
    is returned, not raised: Ray's exception would keep this frame, the Dataset and with it
    the actors (and their CPUs) alive for as long as the caller holds the error."""
    import ray

    # Row order is not kept: Ray Data's actor pools hand back batches as they finish (even its
    # preserve_order option left 2 of 4 runs here shuffled), so each output row carries its
    # inputs, id columns included, to be joined on.
    resources = ray.cluster_resources()
    cpus = int(resources.get("CPU", 1))
    gpus = options.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if resources.get("GPU", 0) else 0.0
    actors = options.actors or max(1, cpus - 1)
    # Actors holding every CPU leave none for the read and write tasks, and the job waits
    # forever (seen here: 2 actors on 2 CPUs). Ray's CPUs are logical: share what is left
    # after one CPU for the I/O between the actors instead.
    cpus_per_actor = min(options.cpus_per_actor, max(0.1, (cpus - 1) / actors)) if cpus > 1 else 0.5
    state: Any = ray.remote(_JobState).options(num_cpus=0).remote()
    # Ray Data restarts a lost actor (a node gone, a worker killed) and runs its batches again
    # by default (max_restarts=-1); the write keeps each batch's output once.
    scored = dataset().map_batches(
        _Scorer, fn_constructor_kwargs={"factory": factory, "state": state, "with_paths": with_paths},
        batch_format="pyarrow", batch_size=options.batch_rows, compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor, num_gpus=gpus or None,
        runtime_env={"env_vars": env})  # per job: one cluster serves many
    try:
        if on_progress is not None:
            with _Poller(state, total, on_progress):
                consume(scored)
        else:
            consume(scored)
        return None
    except Exception as exc:  # Ctrl-C (KeyboardInterrupt) passes through to the caller's cleanup
        return explain_failure(exc, _failure_of(state))
    finally:
        ray.kill(state)


def _failure_of(state: Any) -> BatchFailed | None:
    import ray

    try:
        return ray.get(state.first_failure.remote(), timeout=5)
    except Exception:  # the job's own error is reported instead
        return None


def explain_failure(exc: BaseException, failed: BatchFailed | None) -> str:
    """One message for a failed job. The whole job fails and nothing is written: a result that
    silently lacks the rows of a bad file would look complete to whoever joins on it."""
    suffix = "; no output was written (fix the input and run again)"
    if failed is None:
        return f"the Ray job failed: {_first_line(_root(exc))}{suffix}"
    if failed.rows == 0:
        return (f"a worker could not open the model: {failed.reason} (a checkpoint must be readable on every "
                f"node: keep it on shared storage, or let DomainLens ship it with the job){suffix}")
    where = failed.files or ["a batch"]
    if "utf8" in failed.reason.replace("-", "").lower() or "utf-8" in failed.reason.lower():
        lines = {f: bad_utf8_lines(f) for f in failed.files if Path(f).is_file()}
        spots = "; ".join(f"{f}: line {', '.join(map(str, found))}" for f, found in lines.items() if found)
        return (f"{spots or ', '.join(where)} is not UTF-8 text (save the file as UTF-8, e.g. "
                f"`iconv -f latin1 -t utf-8`){suffix}")
    return f"{', '.join(where)}: a batch of {failed.rows} rows could not be scored: {failed.reason}{suffix}"


def bad_utf8_lines(path: str, limit: int = 5) -> list[int]:
    """The first ``limit`` line numbers (1-based, header included) that are not UTF-8."""
    found: list[int] = []
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                found.append(number)
                if len(found) == limit:
                    break
    return found


def _root(exc: BaseException) -> BaseException:
    while (inner := getattr(exc, "cause", None) or exc.__cause__) is not None and inner is not exc:
        exc = inner
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _rows_written(folder: Path, kind: str) -> int:
    return sum(int(_scan(str(p), kind).select(pl.len()).collect().item()) for p in sorted(folder.glob(f"*.{kind}")))
