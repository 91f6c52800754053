"""Schema inference and feature encoding for credit tables of any shape.

A ``Schema`` is learned once from training data (column kinds, medians, scales,
category vocabularies) and stored as JSON in the checkpoint, so a new file with a
different schema trains with no code change, and predict-time input is checked
against exactly what the model saw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from domains.base import DataError
from domains.labels import display_name

MAX_CATEGORIES = 30  # rarer levels share the "other" code
UNKNOWN = 0  # category code for missing and unseen values
NUMERIC_PARSE_SHARE = 0.95  # a text column is numeric if this share of values parse


@dataclass(frozen=True)
class Column:
    name: str
    kind: Literal["numeric", "categorical"]
    median: float = 0.0
    mean: float = 0.0
    std: float = 1.0
    minimum: float = 0.0
    maximum: float = 0.0
    categories: tuple[str, ...] = ()

    @property
    def cardinality(self) -> int:
        """Embedding / one-hot width including the unknown code."""
        return len(self.categories) + 1


@dataclass(frozen=True)
class Schema:
    columns: tuple[Column, ...]
    target: str
    bad_value: str
    good_label: str = "good"
    bad_label: str = "bad"

    # ---- construction ---------------------------------------------------------------------

    @classmethod
    def infer(cls, frame: pl.DataFrame, target: str, bad_value: str) -> Schema:
        features = [c for c in frame.columns if c != target]
        if not features:
            raise DataError("The table has no feature columns besides the target.")
        values = [str(v) for v in frame[target].drop_nulls().unique().to_list()]
        good = next((v for v in sorted(values) if v != bad_value), "good")
        columns = tuple(_infer_column(frame[name]) for name in features)
        return cls(columns, target, bad_value, good_label=good, bad_label=bad_value)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "bad_value": self.bad_value,
            "good_label": self.good_label,
            "bad_label": self.bad_label,
            "columns": [asdict(c) for c in self.columns],
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Schema:
        columns = tuple(
            Column(**{**c, "categories": tuple(c.get("categories", ()))}) for c in payload["columns"]
        )
        return cls(columns, payload["target"], payload["bad_value"], payload["good_label"], payload["bad_label"])

    # ---- views ----------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "categorical"]

    # ---- validation -----------------------------------------------------------------------

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Select the model's columns in order with the model's types.

        Missing columns and numbers that are not numbers are errors that say which
        columns; extra columns are ignored; missing values are allowed.
        """
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            # Named as the form names them, with the column header a file needs beside each.
            shown = "; ".join(f"{display_name(n, 'credit_risk')} ('{n}')" for n in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            raise DataError(
                f"The file lacks {len(missing)} of the {len(self.names)} columns this model reads: {shown}{more}. "
                "Add them under the headers in brackets (`domainlens columns credit_risk` lists every one); "
                "extra columns are fine."
            )
        exprs: list[pl.Expr] = []
        for col in self.columns:
            dtype = frame.schema[col.name]
            if col.kind == "numeric":
                exprs.append(self._numeric_expr(frame, col, dtype))
            else:
                exprs.append(pl.col(col.name).cast(pl.String).alias(col.name))
        # One chunk per column: a stream's batch arrives as many small frames joined, and every
        # later step (codes, numbers, the matrix) reads contiguous columns faster.
        return frame.select(exprs).rechunk()

    def _numeric_expr(self, frame: pl.DataFrame, col: Column, dtype: pl.DataType) -> pl.Expr:
        if dtype.is_numeric():
            return pl.col(col.name).cast(pl.Float64)
        if dtype == pl.Null:
            return pl.col(col.name).cast(pl.Float64)
        text = frame[col.name].cast(pl.String).str.strip_chars()
        parsed = text.cast(pl.Float64, strict=False)
        bad = text.is_not_null() & (text != "") & parsed.is_null()
        if bad.any():
            examples = ", ".join(repr(v) for v in text.filter(bad).unique().head(3).to_list())
            raise DataError(
                f"{display_name(col.name, 'credit_risk')} ('{col.name}') must be a number but has text "
                f"({examples}) in {int(bad.sum())} row(s). Fix or blank those cells."
            )
        return pl.col(col.name).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)

    def labels(self, frame: pl.DataFrame) -> np.ndarray:
        """1 for the bad class, 0 otherwise; rows with a missing target are an error."""
        if self.target not in frame.columns:
            raise DataError(f"Target column '{self.target}' is not in the data.")
        target = frame[self.target].cast(pl.String)
        if target.null_count():
            raise DataError(f"Target column '{self.target}' has {target.null_count()} empty value(s).")
        return (target == self.bad_value).to_numpy().astype(np.int64)

    # ---- encoders -------------------------------------------------------------------------

    def numeric_matrix(self, conformed: pl.DataFrame, *, standardise: bool) -> np.ndarray:
        """Numeric columns, medians imputed; optionally z-scored with training stats."""
        if not self.numeric:
            return np.zeros((conformed.height, 0), dtype=np.float32)
        exprs = []
        for c in self.numeric:
            e = pl.col(c.name).fill_null(c.median).fill_nan(c.median)
            exprs.append(((e - c.mean) / c.std) if standardise else e)
        return conformed.select(exprs).to_numpy().astype(np.float32, copy=False)

    def category_codes(self, conformed: pl.DataFrame) -> np.ndarray:
        """Integer codes per categorical column: 0 unknown/missing, 1..K known levels."""
        if not self.categorical:
            return np.zeros((conformed.height, 0), dtype=np.int64)
        # Through an Enum of the known levels: its codes are 0..K-1 in the levels' order, and an
        # unseen value becomes null (about 2x faster than a replace over the strings).
        exprs = [
            (pl.col(c.name).cast(pl.Enum(c.categories), strict=False).to_physical().cast(pl.Int64) + 1)
            .fill_null(UNKNOWN)
            for c in self.categorical
        ]
        return conformed.select(exprs).to_numpy()

    def one_hot(self, codes: np.ndarray) -> np.ndarray:
        """Dense one-hot of category codes (unknown level dropped as the reference)."""
        blocks = []
        for j, col in enumerate(self.categorical):
            block = np.zeros((codes.shape[0], len(col.categories)), dtype=np.float32)
            rows = np.nonzero(codes[:, j] > 0)[0]
            block[rows, codes[rows, j] - 1] = 1.0
            blocks.append(block)
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((codes.shape[0], 0), np.float32)

    def one_hot_owner(self) -> list[str]:
        """Original column name of each one-hot column, to fold attributions back."""
        return [c.name for c in self.categorical for _ in c.categories]


def _infer_column(series: pl.Series) -> Column:
    name = series.name
    values = series
    if not series.dtype.is_numeric() and series.dtype != pl.Boolean:
        text = series.cast(pl.String).str.strip_chars()
        parsed = text.cast(pl.Float64, strict=False)
        present = text.len() - text.null_count() - int((text == "").sum())
        if present and parsed.is_not_null().sum() >= NUMERIC_PARSE_SHARE * present:
            values = parsed
        else:
            return _categorical(name, text)
    if series.dtype == pl.Boolean:
        return _categorical(name, series.cast(pl.String))
    numbers = values.cast(pl.Float64).fill_nan(None).drop_nulls()
    if numbers.len() == 0:
        return Column(name, "numeric")
    stats = numbers.to_numpy()
    std = float(stats.std(ddof=1)) if stats.size > 1 else 0.0
    return Column(
        name,
        "numeric",
        median=float(np.median(stats)),
        mean=float(stats.mean()),
        std=std if std > 1e-12 else 1.0,
        minimum=float(stats.min()),
        maximum=float(stats.max()),
    )


def _categorical(name: str, text: pl.Series) -> Column:
    present = text.drop_nulls()
    counts = present.filter(present != "").value_counts(name="n")
    # Most frequent first, ties by name, so the vocabulary is deterministic.
    counts = counts.sort(["n", counts.columns[0]], descending=[True, False])
    levels = tuple(str(v) for v in counts[counts.columns[0]].head(MAX_CATEGORIES).to_list())
    return Column(name, "categorical", categories=levels)
