"""Population stability index (PSI) of each input and of the score against the
training population. The reference profile is stored in the checkpoint so live
monitoring needs no access to the training data.

PSI = sum((actual - expected) * ln(actual / expected)) over bins; the usual
reading is < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from domains.credit_risk.features import Schema

ALERT_PSI = 0.25
SCORE = "p_bad"
_EPS = 1e-4
_BINS = 10


def build_profile(schema: Schema, conformed: pl.DataFrame, p_bad: np.ndarray) -> dict[str, Any]:
    """Bin edges and expected shares for every input and for the score."""
    profile: dict[str, Any] = {}
    for col in schema.columns:
        if col.kind == "numeric":
            profile[col.name] = _numeric_profile(conformed[col.name].to_numpy())
        else:
            profile[col.name] = _categorical_profile(conformed[col.name], col.categories)
    profile[SCORE] = _numeric_profile(np.asarray(p_bad, dtype=float))
    return profile


def psi_table(profile: dict[str, Any], conformed: pl.DataFrame, p_bad: np.ndarray) -> pl.DataFrame:
    """PSI per feature (and the score) for a window of live rows, worst first."""
    rows = []
    for name, ref in profile.items():
        values = np.asarray(p_bad, dtype=float) if name == SCORE else None
        if values is None and name not in conformed.columns:
            continue
        if ref["kind"] == "numeric":
            actual = _numeric_shares(values if values is not None else conformed[name].to_numpy(), ref["edges"])
        else:
            actual = _categorical_shares(conformed[name], ref["categories"])
        rows.append({"feature": name, "psi": psi(np.asarray(ref["expected"]), actual)})
    return pl.DataFrame(rows, schema={"feature": pl.String, "psi": pl.Float64}).sort("psi", descending=True)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_profile(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1])) if finite.size else np.array([])
    return {"kind": "numeric", "edges": edges.tolist(), "expected": _numeric_shares(values, edges.tolist()).tolist()}


def _numeric_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Shares per bin; the last slot counts missing values."""
    values = np.asarray(values, dtype=float)
    missing = ~np.isfinite(values)
    idx = np.searchsorted(np.asarray(edges), values[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def _categorical_profile(values: pl.Series, categories: tuple[str, ...]) -> dict[str, Any]:
    return {
        "kind": "categorical",
        "categories": list(categories),
        "expected": _categorical_shares(values, list(categories)).tolist(),
    }


def _categorical_shares(values: pl.Series, categories: list[str] | tuple[str, ...]) -> np.ndarray:
    """Shares per known level; the last slot counts unseen and missing levels."""
    counts = values.cast(pl.String).value_counts()
    lookup = dict(zip(counts[counts.columns[0]].to_list(), counts["count"].to_list(), strict=True))
    known = np.array([lookup.get(c, 0) for c in categories], dtype=float)
    other = values.len() - known.sum()
    return np.append(known, other) / max(values.len(), 1)
