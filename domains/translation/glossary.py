"""Glossary and do-not-translate terms: enforced by masking each source term before
translation and putting the required target term back afterwards; every term's use
is reported (found in the source, kept in the translation)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from domains.base import DataError

MAX_TERMS = 500


@dataclass(frozen=True)
class Term:
    source: str
    target: str  # equal to ``source`` for a do-not-translate term

    @property
    def keep(self) -> bool:
        return self.source == self.target

    @property
    def pattern(self) -> str:
        return rf"(?<!\w){re.escape(self.source)}(?!\w)"


def parse_glossary(text: str) -> list[Term]:
    """One term per line: ``term`` (keep as is), or ``source => target`` (also ``=`` or a
    tab between them). Blank lines and lines starting with # are skipped."""
    terms: list[Term] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*(?:=>|\t|=)\s*", line, maxsplit=1)
        source, target = (parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[0])
        if not source or not target:
            raise DataError(f"glossary line {number} ({line!r}) needs a term, or 'source => target'")
        terms.append(Term(source, target))
    if len(terms) > MAX_TERMS:
        raise DataError(f"the glossary has {len(terms)} terms; at most {MAX_TERMS} are supported")
    # Longer terms first so "New York Times" wins over "New York".
    return sorted(dict.fromkeys(terms), key=lambda t: -len(t.source))


def term_report(terms: list[Term], sources: list[str], outputs: list[str]) -> pl.DataFrame:
    """Per term: how often it occurs in the source and how often the required form is in
    the translation (``enforced`` is True when every occurrence made it through)."""
    rows = []
    for term in terms:
        found = sum(len(re.findall(term.pattern, s, flags=re.IGNORECASE)) for s in sources)
        kept = sum(len(re.findall(rf"(?<!\w){re.escape(term.target)}(?!\w)", o)) for o in outputs)
        rows.append({"term": term.source, "required": term.target, "in_source": found, "in_translation": kept,
                     "enforced": found == 0 or kept >= found})
    return pl.DataFrame(rows, schema={"term": pl.String, "required": pl.String, "in_source": pl.Int64,
                                      "in_translation": pl.Int64, "enforced": pl.Boolean})
