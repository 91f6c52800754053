"""The server's heavy work: trainings and batch scorings run as background jobs through one
registry per artifacts folder, at most ``limits()`` of each kind at once (the rest queue)."""

from __future__ import annotations

import os
import threading

import polars as pl
import torch

from domains.base import DataError, Domain, DomainData, ModelSpec, Predictor, TrainOutcome, TrainSettings
from domains.training import train_and_save
from models.checkpoints import artifacts_root
from models.control import CancelToken, Progress, ProgressFn
from models.jobs import Job, JobRegistry
from models.streaming import BatchResult, score_frame

JOBS = "_jobs"  # the job registry's records, under the artifacts root

TRAINING = "training"
BATCH = "batch scoring"


def limits() -> dict[str, int]:
    """How many trainings, batch scorings and live streams one server runs at once.
    Defaults fit the machine (a training or a batch keeps about two cores busy, a paced
    stream little); set ``DOMAINLENS_MAX_TRAININGS`` / ``DOMAINLENS_MAX_BATCHES`` /
    ``DOMAINLENS_MAX_STREAMS`` to change them."""
    cores = os.cpu_count() or 1
    return {TRAINING: _env_int("DOMAINLENS_MAX_TRAININGS", max(1, cores // 2)),
            BATCH: _env_int("DOMAINLENS_MAX_BATCHES", max(1, cores // 2)),
            "stream": _env_int("DOMAINLENS_MAX_STREAMS", max(4, 2 * cores))}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise DataError(f"{name}={value!r}: set it to a whole number of at least 1")
    return int(value)


_registries: dict[str, JobRegistry] = {}
_registries_lock = threading.Lock()


def job_registry() -> JobRegistry:
    """The server's job registry (one per artifacts folder), its records under ``_jobs``."""
    root = artifacts_root()
    with _registries_lock:
        registry = _registries.get(str(root))
        if registry is None:
            registry = _registries[str(root)] = JobRegistry(root / JOBS, limits())
        return registry


def submit_training(domain: Domain, spec: ModelSpec, data: DomainData, settings: TrainSettings, *,
                    device: torch.device, owner: str) -> Job[TrainOutcome]:
    """Train and save in the background through the server's registry: started now when a
    training slot is free, else queued (``JobRegistry.position`` says where)."""
    job: Job[TrainOutcome] = Job(
        name=f"{domain.key}-{spec.key}", kind=TRAINING, domain=domain.key, model=spec.key, data=data.name,
        owner=owner, describe=lambda outcome: str(outcome.bundle.path) if outcome.bundle is not None else "",
        target=lambda progress, cancel: train_and_save(domain, spec, data, settings, device=device,
                                                       progress=progress, cancel=cancel))
    job_registry().submit(job)
    return job


def submit_batch(domain_key: str, predictor: Predictor, inputs: pl.DataFrame, *, name: str, model: str, data: str,
                 owner: str, batch_rows: int = 8192) -> Job[pl.DataFrame]:
    """Score an uploaded batch in the background through the server's registry (queued when
    every batch slot is taken); the result is the scored frame, outputs first."""

    def target(progress: ProgressFn, cancel: CancelToken) -> pl.DataFrame:
        def step(result: BatchResult) -> None:
            cancel.raise_if_cancelled()
            progress(Progress(result.rows_total, inputs.height, stage="scoring"))

        return score_frame(predictor.predict, inputs, batch_rows=batch_rows, on_batch=step)

    job: Job[pl.DataFrame] = Job(name=name, kind=BATCH, domain=domain_key, model=model, data=data,
                                 owner=owner, describe=lambda frame: f"{frame.height:,} rows scored", target=target)
    job_registry().submit(job)
    return job
