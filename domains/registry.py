"""The registry of built domains. Pages and the CLI enumerate domains from here;
a domain that is not listed simply does not appear (no broken pages).

Entries are import paths so listing domains stays cheap: a domain module is only
imported when first asked for.
"""

from __future__ import annotations

import importlib
from functools import cache

from domains.base import DataError, Domain

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
