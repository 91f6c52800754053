"""Train a domain model and register its checkpoint: the one path shared by the CLI
and the dashboard's background jobs. Nothing is written unless training finishes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import polars as pl
import torch

from domains.base import DataError, Domain, DomainData, ModelSpec, Predictor, TrainOutcome, TrainSettings
from domains.lineage import data_signature
from models.checkpoints import METADATA, BundleWriter, artifacts_root, load_bundle, save_bundle
from models.jobs import Job, JobRegistry
from models.streaming import BatchResult, score_frame
from models.training import CancelToken, Progress, ProgressFn, no_progress

PREPARED = "_prepared"  # fitted menu entries, under the artifacts root
JOBS = "_jobs"  # the job registry's records, under the artifacts root


def train_and_save(
    domain: Domain,
    spec: ModelSpec,
    data: DomainData,
    settings: TrainSettings,
    *,
    device: torch.device,
    progress: ProgressFn,
    cancel: CancelToken,
    root: Path | None = None,
    out_dir: Path | None = None,
) -> TrainOutcome:
    outcome = domain.train(spec, data, settings, device=device, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()  # a cancel that lands after the last step still wins
    writer = outcome.predictor.to_bundle()
    metadata: dict[str, Any] = {
        **dict(writer.metadata),
        "title": spec.title,
        "metrics": outcome.metrics,
        "history": outcome.history,
        "settings": {"epochs": settings.epochs, "cv": settings.cv, "seed": settings.seed,
                     **{k: v for k, v in settings.options.items() if isinstance(v, int | float | str | bool)}},
        "device": str(device),
        "data": data_signature(data),
        **outcome.info,
    }
    if outcome.report is not None and "roc" in outcome.report.frames:
        roc = outcome.report.frames["roc"]
        step = max(1, roc.height // 100)  # ~100 points are plenty to overlay curves
        metadata["curves"] = {"roc": {"fpr": roc["fpr"][::step].to_list(), "tpr": roc["tpr"][::step].to_list()}}
    outcome.bundle = save_bundle(
        domain.key, spec.key, BundleWriter(writer.tensors, metadata, writer.extra), root=root, out_dir=out_dir
    )
    return outcome


def fit_on_default_data(domain: Domain, spec: ModelSpec, device: torch.device,
                        settings: TrainSettings | None = None, *, data: DomainData | None = None,
                        progress: ProgressFn | None = None) -> Predictor:
    """An untrained menu entry made usable: fit it on the domain's default data (seconds for
    most; a short recipe for those that take longer) the first time, and keep the result under
    ``<artifacts>/_prepared`` so every later load on this machine, after a restart too, only
    reads it. The folder is not a listed checkpoint: the menu entry stands for it."""
    settings = settings or TrainSettings()
    data = data if data is not None else domain.load_data()
    folder = prepared_folder(domain.key, spec, settings, data)
    if (folder / METADATA).is_file():
        try:
            return domain.load(load_bundle(folder), device)
        except Exception:  # written by an older DomainLens or damaged: fit it again
            shutil.rmtree(folder, ignore_errors=True)
    return train_and_save(domain, spec, data, settings, device=device, progress=progress or no_progress,
                          cancel=CancelToken(), out_dir=folder).predictor


def prepared_folder(domain_key: str, spec: ModelSpec, settings: TrainSettings, data: DomainData) -> Path:
    """Where the fitted menu entry lives: one folder per recipe and training data (its
    signature and size), four levels deep so that listing checkpoints never sees it."""
    recipe = {"spec": spec.key, "source": spec.source, "epochs": settings.epochs, "cv": settings.cv,
              "seed": settings.seed, "data": data_signature(data), "rows": data.frame.height}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return artifacts_root() / PREPARED / domain_key / spec.key / digest


# ---- the server's heavy work ------------------------------------------------------------------

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
