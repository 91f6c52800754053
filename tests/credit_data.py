"""A synthetic credit file whose schema differs from German Credit (shared by CLI and browser tests)."""

from pathlib import Path

import numpy as np
import polars as pl


def custom_credit_csv(path: Path, n: int = 600) -> Path:
    rng = np.random.default_rng(3)
    income = rng.normal(50_000, 15_000, n).round(0)
    debt_ratio = rng.uniform(0, 1, n).round(3)
    region = rng.choice(["north", "south", "east", "west"], n)
    employment = rng.choice(["salaried", "self-employed", "unemployed"], n, p=[0.6, 0.3, 0.1])
    logit = -1.0 + 4.0 * (debt_ratio - 0.5) - (income - 50_000) / 12_000 + (employment == "unemployed") * 2.0
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pl.DataFrame({
        "income": income, "debt_ratio": debt_ratio, "region": region, "employment": employment,
        "outcome": np.where(bad, "bad", "good"),
    }).with_columns(  # sprinkle missing values into a numeric and a categorical column
        pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise(pl.col("income")).alias("income"),
        pl.when(pl.int_range(pl.len()) % 23 == 0).then(None).otherwise(pl.col("region")).alias("region"),
    )
    frame.write_csv(path)
    return path
