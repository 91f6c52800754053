"""Train a domain model and register its checkpoint: the one path shared by the CLI, the
dashboard's background jobs and the first fit of a menu entry. Nothing is written unless
training finishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from domains.base import Domain, DomainData, ModelSpec, TrainOutcome, TrainSettings
from domains.lineage import data_signature
from models.checkpoints import BundleWriter, save_bundle
from models.control import CancelToken, ProgressFn


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
