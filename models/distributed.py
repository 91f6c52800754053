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
import os
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from models.errors import DomainLensError

ScoreFn = Callable[[pl.DataFrame], pl.DataFrame]
MAX_RESTARTS = 3
FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}


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
        _check_reachable(address, timeout_s)
    if ray.is_initialized():
        return
    settings: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        # Ray sizes the object store itself (30% of memory). A small one makes scored batches
        # spill to disk: 2M credit rows took 28.7 s with 256 MB and 14.3 s with Ray's default.
        # Tests pass a small one (``object_store_mb``) to share the machine.
        store = object_store_mb * 2**20 if object_store_mb else None
        ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=store, **settings)
        return
    try:
        ray.init(address=address, **settings)
    except (ConnectionError, RuntimeError) as exc:
        raise ClusterError(f"could not join the Ray cluster at {address}: {exc}") from exc


def _check_reachable(address: str, timeout_s: float) -> None:
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address!r}: give auto, host:port or ray://host:10001")
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
    if kind == "parquet":
        return pl.scan_parquet(files[0]).head(rows).collect()
    if kind == "csv":
        return pl.read_csv(files[0], n_rows=rows)
    return pl.read_ndjson(files[0]).head(rows)


def read(files: list[str] | str, kind: str) -> Any:
    """A Ray Dataset over what ``input_files`` found."""
    import ray

    reader = {"parquet": ray.data.read_parquet, "csv": ray.data.read_csv, "json": ray.data.read_json}[kind]
    return reader(files)


class _Scorer:
    """One per actor: builds the scoring function once, then scores batch after batch."""

    def __init__(self, factory: Callable[[], ScoreFn]) -> None:
        self._score = factory()

    def __call__(self, batch: Any) -> Any:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return self._score(frame).to_arrow()


def score(source: str, output: Path, factory: Callable[[], ScoreFn], options: RayOptions, *,
          env: dict[str, str] | None = None) -> int:
    """Score ``source`` into files under ``output``; returns the number of rows written.

    The result is written beside ``output`` first and moved into place only once every
    row is written, so an interrupted job (Ctrl-C, a failed actor Ray gave up on) never
    leaves a folder that looks complete."""
    import ray

    output = Path(output)
    if output.exists() and any(output.iterdir()) and not options.overwrite:
        raise ClusterError(f"{output} already holds a result; choose another folder or pass --overwrite")
    files, kind = input_files(source)  # a missing or mixed input fails here, before any cluster work
    connect(options.address)
    # Row order is not kept: Ray Data's actor pools hand back batches as they finish (even its
    # preserve_order option left 2 of 4 runs here shuffled), so each output row carries its
    # inputs, id columns included, to be joined on.
    dataset = read(files, kind)
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
    scored = dataset.map_batches(_Scorer, fn_constructor_kwargs={"factory": factory}, batch_format="pyarrow",
                                 batch_size=options.batch_rows, compute=ray.data.ActorPoolStrategy(size=actors),
                                 num_cpus=cpus_per_actor, num_gpus=gpus or None,
                                 runtime_env={"env_vars": dict(env or {})},  # per job: one cluster serves many
                                 # A lost actor (a node gone, a worker killed) is restarted and its
                                 # batches run again; the write keeps each batch's output once.
                                 max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)
    partial = output.parent / f".{output.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        (scored.write_csv if options.output_format == "csv" else scored.write_parquet)(str(partial))
        rows = _rows_written(partial, options.output_format)
        if output.exists():
            shutil.rmtree(output)
        os.replace(partial, output)
        return int(rows)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _rows_written(folder: Path, kind: str) -> int:
    scan = pl.scan_csv if kind == "csv" else pl.scan_parquet
    return sum(int(scan(str(p)).select(pl.len()).collect().item()) for p in sorted(folder.glob(f"*.{kind}")))
