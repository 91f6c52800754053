"""Train a domain model and register its checkpoint: the one path shared by the CLI
and the dashboard's background jobs. Nothing is written unless training finishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from domains.base import Domain, DomainData, ModelSpec, Predictor, TrainOutcome, TrainSettings
from models.checkpoints import BundleWriter, save_bundle
from models.training import CancelToken, ProgressFn


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
                        settings: TrainSettings | None = None) -> Predictor:
    """An untrained menu entry made usable: fit it on the domain's bundled data (seconds
    for the domains that do this; a short recipe for those that take longer), without
    saving a checkpoint."""
    return domain.train(spec, domain.load_data(), settings or TrainSettings(), device=device,
                        progress=lambda p: None, cancel=CancelToken()).predictor
