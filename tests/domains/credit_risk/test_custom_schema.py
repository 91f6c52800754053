"""A credit file with a different schema trains and evaluates with no code change."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from domains.cli import main


def _custom_csv(path: Path, n: int = 600) -> Path:
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


def test_train_and_evaluate_custom_schema_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _custom_csv(tmp_path / "loans.csv")
    out = tmp_path / "ckpt"
    assert main(["train", "credit_risk", "--model", "gbm", "--data", str(data), "--target", "outcome",
                 "--bad", "bad", "--cv", "3", "--out", str(out), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["checkpoint"] == str(out.resolve()) and trained["metrics"]["auc"] > 0.7
    meta = json.loads((out / "metadata.json").read_text())
    kinds = {c["name"]: c["kind"] for c in meta["schema"]["columns"]}
    assert kinds == {"income": "numeric", "debt_ratio": "numeric", "region": "categorical",
                     "employment": "categorical"}

    assert main(["evaluate", "credit_risk", "--checkpoint", str(out), "--data", str(data), "--target",
                 "outcome", "--bad", "bad", "--split", "all", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["metrics"]["auc"] > 0.75 and evaluated["model"] == "gbm"

    preds = tmp_path / "preds.csv"
    assert main(["predict", "credit_risk", "--checkpoint", str(out), "--input", str(data),
                 "--output", str(preds)]) == 0
    scored = pl.read_csv(preds)
    assert scored.height == 600 and scored["p_bad"].is_between(0, 1).all()
