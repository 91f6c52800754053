"""A credit file with a different schema trains and evaluates with no code change."""

import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.cli import main
from tests.credit_data import custom_credit_csv as _custom_csv


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
