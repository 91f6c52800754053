"""Declared columns: what a predictor takes and returns, as data every face reads (the
pages' tables, the CLI's errors, the HTTP API's request and response schemas), and the
check that a real frame matches its declaration, so the declaration cannot drift from
what the code returns (``tests/domains/test_contract.py`` runs it on every domain)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    from domains.base import FieldSpec

ColumnType = Literal["number", "integer", "text", "bool", "list", "bytes", "struct"]
_POLARS_KINDS: dict[ColumnType, tuple[type[pl.DataType], ...]] = {
    "number": (pl.Float32, pl.Float64),
    "integer": (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64),
    "text": (pl.String, pl.Categorical, pl.Enum),
    "bool": (pl.Boolean,),
    "list": (pl.List, pl.Array),
    "bytes": (pl.Binary,),
    "struct": (pl.Struct,),
}


@dataclass(frozen=True)
class Column:
    """One input or output column: its name, type, meaning and, where they are known, the
    values it may take (``choices``) or its range. ``required`` inputs must be sent; an
    output that is not ``required`` appears only in some cases (e.g. a ``note``)."""

    name: str
    type: ColumnType
    meaning: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    required: bool = True

    def problems(self, series: pl.Series) -> list[str]:
        """How ``series`` breaks this declaration (type, nulls, choices, range); empty when it holds."""
        found = []
        if not isinstance(series.dtype, _POLARS_KINDS[self.type]) and series.dtype != pl.Null:
            found.append(f"'{self.name}' is {series.dtype}, declared {self.type}")
            return found
        values = series.drop_nulls()
        if series.null_count() and not self.nullable:
            found.append(f"'{self.name}' has {series.null_count()} null(s) but is not declared nullable")
        if self.choices and values.len() and self.type in ("text", "integer", "bool"):
            unknown = sorted({str(v) for v in values.unique().to_list()} - {str(c) for c in self.choices})
            if unknown:
                found.append(f"'{self.name}' has values {unknown[:5]} outside its choices {list(self.choices)[:8]}")
        if self.type in ("number", "integer") and values.len():
            low, high = float(values.min()), float(values.max())  # type: ignore[arg-type]
            if self.minimum is not None and low < self.minimum:
                found.append(f"'{self.name}' goes down to {low}, below its minimum {self.minimum}")
            if self.maximum is not None and high > self.maximum:
                found.append(f"'{self.name}' goes up to {high}, above its maximum {self.maximum}")
        return found


def frame_problems(frame: pl.DataFrame, columns: Sequence[Column]) -> list[str]:
    """Every way ``frame`` differs from ``columns``: an undeclared column, a required one
    missing, or a column breaking its own declaration."""
    declared = {c.name: c for c in columns}
    found = [f"'{name}' is returned but not declared" for name in frame.columns if name not in declared]
    found += [f"'{c.name}' is declared but missing" for c in columns if c.required and c.name not in frame.columns]
    for name in frame.columns:
        if name in declared:
            found += declared[name].problems(frame[name])
    return found


_FIELD_TYPES: dict[str, ColumnType] = {"number": "number", "integer": "integer", "category": "text",
                                       "text": "text", "bool": "bool"}


def columns_of_fields(fields: Sequence[FieldSpec], names: Mapping[str, str]) -> list[Column]:
    """Input columns from a form's fields: their types and choices, meaning from ``names`` (the
    display name of each). A range the training data spanned is told, not enforced: a value
    beyond it is still scored (the faces flag it as an extrapolation)."""
    columns = []
    for f in fields:
        seen = f" (seen in training: {f.minimum:g} to {f.maximum:g})" if f.minimum is not None and \
            f.maximum is not None else ""
        columns.append(Column(f.name, _FIELD_TYPES[f.kind], (f.help or names.get(f.name) or f.name) + seen,
                              choices=tuple(f.choices)))
    return columns


_JSON_TYPES: dict[ColumnType, dict[str, Any]] = {
    "number": {"type": "number"}, "integer": {"type": "integer"}, "text": {"type": "string"},
    "bool": {"type": "boolean"}, "list": {"type": "array"}, "struct": {"type": "object"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
}


def json_schema(columns: Sequence[Column], title: str) -> dict[str, Any]:
    """One row of ``columns`` as a JSON Schema object (the HTTP API's request and response
    documentation): each column's type, meaning, choices and declared range."""
    properties: dict[str, Any] = {}
    for c in columns:
        typed: dict[str, Any] = {**_JSON_TYPES[c.type], "description": c.meaning}
        if c.choices:
            typed["enum"] = list(c.choices)
        if c.minimum is not None:
            typed["minimum"] = c.minimum
        if c.maximum is not None:
            typed["maximum"] = c.maximum
        properties[c.name] = {"anyOf": [typed, {"type": "null"}], "description": c.meaning} if c.nullable else typed
    return {"title": title, "type": "object", "properties": properties,
            "required": [c.name for c in columns if c.required and not c.nullable]}
