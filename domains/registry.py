"""The registry of built domains. Pages and the CLI enumerate domains from here;
a domain that is not listed simply does not appear (no broken pages).

Entries are import paths so listing domains stays cheap: a domain module is only
imported when first asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import cast

import torch

from domains.base import DataError, Domain, ModelSpec, Predictor
from domains.capabilities import Translator
from models.checkpoints import load_bundle
from models.training import ProgressFn

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
def get(key: str) -> Domain:
    if key not in DOMAINS:
        raise DataError(f"Unknown domain '{key}'. Available: {', '.join(DOMAINS)}.")
    module_name, _, attr = DOMAINS[key].partition(":")
    domain: Domain = getattr(importlib.import_module(module_name), attr)()
    return domain


def all_domains() -> list[Domain]:
    return [get(k) for k in DOMAINS]


def open_predictor(domain: Domain, model: ModelSpec | str | Path, device: torch.device, *,
                   source: str | None = None, progress: ProgressFn | None = None) -> Predictor:
    """The one way the CLI and the dashboard open a model.

    ``model`` is a checkpoint folder (a ``Path``), a menu key (a ``str``) or a menu entry.
    ``source`` replaces a menu entry's weights (a local folder or hub id). A menu entry
    that must be fitted first is fitted on the default data (``Domain.load``) while
    reporting to ``progress``.

    Raises ``DataError`` for an unknown key or a checkpoint of another domain, and
    ``CheckpointError`` for a folder that is not a complete checkpoint.
    """
    if isinstance(model, Path):
        bundle = load_bundle(model)
        if bundle.domain != domain.key:
            raise DataError(f"that checkpoint belongs to the '{bundle.domain}' domain, not '{domain.key}'")
        return domain.load(bundle, device, progress=progress)
    spec = domain.spec(model) if isinstance(model, str) else model
    if source:
        spec = replace(spec, source=source)
    return domain.load(spec, device, progress=progress)


def with_pair(predictor: Predictor, src: str | None, tgt: str | None) -> Predictor:
    """Set a translator's language pair (from --src/--tgt or the data); others pass through."""
    if not (src or tgt) or not isinstance(predictor, Translator):
        return predictor
    pairs = predictor.pairs()
    matches = [(a, b) for a, b in pairs if src in (None, a) and tgt in (None, b)]
    pick = matches[0] if matches else (src or pairs[0][0], tgt or pairs[0][1])  # with_pair explains a bad pair
    return cast(Predictor, predictor.with_pair(*pick))
