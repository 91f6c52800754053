"""What data a checkpoint was trained on, and whether it fits the data a user selected.

Every checkpoint records the signature of its training data (columns, target, label
values). A page opens on a model whose signature fits the selected dataset (the best by
the domain's ``default_metric``, else the newest); a model trained on other data stays
listed but is never the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from domains.base import DomainData
from models.checkpoints import Bundle

MAX_LABELS = 50  # a target with more distinct values is not a label set (e.g. a rating)
_BOOKKEEPING = {"split", "fold"}  # columns DomainLens adds; they say nothing about the schema


def data_signature(data: DomainData) -> dict[str, Any]:
    """Name, input columns, target and (for classification) the sorted label values."""
    columns = sorted(c for c in data.frame.columns if c not in _BOOKKEEPING)
    labels: list[str] | None = None
    if data.target and data.target in data.frame.columns:
        values = data.frame.get_column(data.target).drop_nulls().unique()
        if values.len() <= MAX_LABELS and values.dtype != pl.Object:
            labels = sorted(str(v) for v in values.to_list())
    return {"name": data.name, "columns": columns, "target": data.target, "labels": labels}


def fits(metadata: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """True when a checkpoint's training data has the schema of the selected data (``current``,
    its ``data_signature``, computed once for all the checkpoints compared): its columns are all
    present, the target is the same, and so are the label values. A checkpoint from before
    signatures were recorded says nothing, and counts as fitting (it used to be the default)."""
    trained = metadata.get("data")
    if not isinstance(trained, Mapping):
        return True
    if not set(trained.get("columns") or ()) <= set(current["columns"]):
        return False
    if trained.get("target") != current["target"]:
        return False
    return not (trained.get("labels") and current["labels"] and trained["labels"] != current["labels"])


def trained_on(metadata: Mapping[str, Any]) -> str:
    """The training data's name for labels ("" when not recorded)."""
    trained = metadata.get("data")
    return str(trained.get("name", "")) if isinstance(trained, Mapping) else ""


def page_default(fitting: Sequence[Bundle], metric: str | None,
                 speed: tuple[str, float] | None = None) -> Bundle | None:
    """What a page opens with among the checkpoints that fit its data (newest first): the
    best by ``metric`` (the newest among equals), or the newest where no checkpoint records
    it; None when there are none. With ``speed`` (a rate metric and its floor), checkpoints
    that recorded a rate below the floor are passed over while any other fits: the most
    accurate model that keeps up, not the most accurate one. A checkpoint that recorded no
    rate is not judged by it."""
    if not fitting:
        return None
    if speed is not None:
        name, floor = speed
        fast = [b for b in fitting if not _finite(b.metrics.get(name)) or float(b.metrics[name]) >= floor]
        fitting = fast or fitting
    scored = [b for b in fitting if metric and _finite(b.metrics.get(metric))]
    if not scored:
        return fitting[0]
    best = max(float(b.metrics[metric]) for b in scored)  # type: ignore[index]
    return next(b for b in scored if float(b.metrics[metric]) == best)  # type: ignore[index]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
