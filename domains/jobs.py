"""Train a domain model and register its checkpoint: the one path shared by the CLI
and the dashboard's background jobs. Nothing is written unless training finishes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from domains.base import Domain, DomainData, ModelSpec, Predictor, TrainOutcome, TrainSettings
from domains.lineage import data_signature
from models.checkpoints import METADATA, BundleWriter, artifacts_root, load_bundle, save_bundle
from models.training import CancelToken, ProgressFn, no_progress

PREPARED = "_prepared"  # fitted menu entries, under the artifacts root


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
