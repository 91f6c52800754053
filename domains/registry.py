"""The registry of built domains. Pages and the CLI enumerate domains from here;
a domain that is not listed simply does not appear (no broken pages).

Entries are import paths so listing domains stays cheap: a domain module is only
imported when first asked for.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import torch

from domains.base import DataError, Domain, DomainData, ModelSpec, Predictor, TrainSettings
from domains.capabilities import Thresholded
from domains.lineage import data_signature
from domains.training import train_and_save
from models.checkpoints import METADATA, Bundle, artifacts_root, list_bundles, load_bundle
from models.control import CancelToken, ProgressFn, no_progress

PREPARED = "_prepared"  # fitted menu entries, under the artifacts root

DOMAINS: dict[str, str] = {
    "medical_imaging": "domains.medical_imaging.domain:MedicalImagingDomain",
    "credit_risk": "domains.credit_risk.domain:CreditRiskDomain",
    "recommendations": "domains.recommendations.domain:RecommendationsDomain",
    "text_classification": "domains.text_classification.domain:TextClassificationDomain",
    "translation": "domains.translation.domain:TranslationDomain",
}


def domain_keys() -> list[str]:
    return list(DOMAINS)


@cache
def get(key: str) -> Domain[Any]:
    if key not in DOMAINS:
        raise DataError(f"Unknown domain '{key}'. Available: {', '.join(DOMAINS)}.")
    module_name, _, attr = DOMAINS[key].partition(":")
    domain: Domain[Any] = getattr(importlib.import_module(module_name), attr)()
    return domain


def all_domains() -> list[Domain[Any]]:
    return [get(k) for k in DOMAINS]


def open_predictor(domain: Domain[Any], model: ModelSpec | str | Path, device: torch.device, *,
                   source: str | None = None, options: Mapping[str, Any] | None = None,
                   threshold: float | None = None, progress: ProgressFn | None = None) -> Predictor:
    """The one way the CLI, the dashboard and the API open a model.

    ``model`` is a checkpoint folder (a ``Path``), a menu key (a ``str``) or a menu entry.
    ``source`` replaces a menu entry's weights (a local folder or hub id). A menu entry
    that must be fitted first (``Domain.needs_fit``) is fitted once on the default data
    (``Domain.first_fit``) while reporting to ``progress``, and kept for later. ``options``
    are ``Domain.data_options`` values the predictor is configured with (``Domain.configure``,
    e.g. a translator's language pair); ``threshold`` replaces a thresholded model's stored
    decision threshold (``DataError`` for a model without one).

    Raises ``DataError`` for an unknown key or a checkpoint of another domain, and
    ``CheckpointError`` for a folder that is not a complete checkpoint.
    """
    if isinstance(model, Path):
        bundle = load_bundle(model)
        if bundle.domain != domain.key:
            raise DataError(f"that checkpoint belongs to the '{bundle.domain}' domain, not '{domain.key}'")
        predictor = domain.load(bundle, device)
    else:
        spec = domain.spec(model) if isinstance(model, str) else model
        if source:
            spec = replace(spec, source=source)
        fit = domain.needs_fit(spec)
        predictor = _fitted_once(domain, spec, device, progress) if fit else domain.load(spec, device)
    if options:
        predictor = domain.configure(predictor, options)
    return predictor if threshold is None else decide_at(domain, predictor, threshold)


def decide_at(domain: Domain[Any], predictor: Predictor, threshold: float) -> Predictor:
    """A copy of a thresholded model deciding at ``threshold``; ``DataError`` for a model without
    a threshold or a value outside 0-1 (the CLI's ``--threshold``, the API's ``?threshold=``)."""
    if not isinstance(predictor, Thresholded):
        raise DataError(f"{domain.title} models have no decision threshold; leave the threshold out")
    if not 0.0 <= threshold <= 1.0:
        raise DataError(f"threshold {threshold} is outside 0-1: give a probability, e.g. 0.3")
    return predictor.with_threshold(threshold)


def _fitted_once(domain: Domain[Any], spec: ModelSpec, device: torch.device,
                 progress: ProgressFn | None) -> Predictor:
    """An untrained menu entry made usable: fit it with the domain's first-fit recipe (seconds
    for most; a short recipe for those that take longer) the first time, and keep the result
    under ``<artifacts>/_prepared`` so every later load on this machine, after a restart too,
    only reads it. The folder is not a listed checkpoint: the menu entry stands for it."""
    settings, data = domain.first_fit(spec, domain.load_data())
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


def prepared_bundles(domain_key: str | None = None) -> list[Bundle]:
    """The menu models this server has fitted for its pages (newest first): not checkpoints a
    user trained, but real fitted models with their metrics, shown beside them on the Models page."""
    return list_bundles(domain_key, root=artifacts_root() / PREPARED)
