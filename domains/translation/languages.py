"""Language names and offline language detection (lingua, restricted to the languages
DomainLens translates between, which keeps it fast and accurate on short texts)."""

from __future__ import annotations

from functools import cache
from typing import Any

from domains.capabilities import Detection

NAMES: dict[str, str] = {"en": "English", "pt": "Portuguese", "es": "Spanish", "fr": "French", "de": "German",
                         "it": "Italian"}


def name(code: str) -> str:
    return NAMES.get(code, code)


def pair_key(src: str, tgt: str) -> str:
    return f"{src}-{tgt}"


@cache
def _detector() -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in NAMES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def detect(text: str) -> Detection:
    """The most likely language of ``text`` with its confidence (0-1)."""
    if not any(ch.isalpha() for ch in text):
        return Detection(None, 0.0)
    values = _detector().compute_language_confidence_values(text[:2000])
    ranked = tuple((v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values if v.value > 0)
    if not ranked:
        return Detection(None, 0.0)
    return Detection(ranked[0][0], ranked[0][1], ranked[:3])
