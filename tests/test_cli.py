import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.cli import main


def _last_json(capsys: pytest.CaptureFixture) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_models_lists_default_first_then_checkpoints(trained_gbm_dir, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DOMAINLENS_HOME", str(trained_gbm_dir.parents[2]))
    assert main(["models", "credit_risk"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[0] == "gbm" and lines[0].endswith("default")
    assert {line.split("\t")[0] for line in lines[:3]} == {"gbm", "scorecard", "neural"}


def test_train_json_contract(tmp_path: Path, capsys) -> None:
    assert main(["train", "credit_risk", "--model", "scorecard", "--json"]) == 0
    payload = _last_json(capsys)
    assert set(payload) == {"domain", "model", "checkpoint", "metrics"}
    assert payload["domain"] == "credit_risk" and payload["model"] == "scorecard"
    assert Path(payload["checkpoint"], "metadata.json").is_file()
    assert {"auc", "gini", "ks", "brier", "log_loss", "ece"} <= set(payload["metrics"])


def test_evaluate_with_model_trains_and_scores_holdout(capsys) -> None:
    assert main(["evaluate", "credit_risk", "--model", "scorecard", "--json"]) == 0
    payload = _last_json(capsys)
    assert payload["checkpoint"] is None and 0.7 < payload["metrics"]["auc"] < 0.95


def test_predict_streams_file(trained_gbm_dir, german_credit_csv, tmp_path, capsys) -> None:
    out = tmp_path / "scored.parquet"
    assert main(["predict", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--input",
                 str(german_credit_csv), "--output", str(out), "--batch-rows", "128"]) == 0
    scored = pl.read_parquet(out)
    assert scored.height == 1000 and {"p_bad", "score", "decision"} <= set(scored.columns)
    assert set(scored["decision"]) <= {"approve", "reject"}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "credit_risk", "--checkpoint", "/no/such/dir"], "checkpoint folder not found"),
        (["train", "credit_risk", "--model", "nope"], "unknown model 'nope'"),
        (["train", "nope", "--model", "gbm"], "Unknown domain 'nope'"),
        (["train", "credit_risk", "--model", "gbm", "--device", "cuda"], "CUDA"),
        (["train", "credit_risk", "--model", "gbm", "--data", "/no/file.csv", "--target", "t"], "File not found"),
    ],
)
def test_errors_are_one_line_without_traceback(argv, needle, capsys) -> None:
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert "Traceback" not in err[0]


def test_each_domain_offers_its_own_flags(capsys) -> None:
    """Flags come from what the named domain declares: credit's --target is no text flag."""
    with pytest.raises(SystemExit) as shown:
        main(["train", "credit_risk", "--help"])
    assert shown.value.code == 0
    helptext = capsys.readouterr().out
    assert "Credit Risk options" in helptext and "--target" in helptext and "--bad" in helptext
    assert "--text-col" not in helptext and "--src" not in helptext
    with pytest.raises(SystemExit) as refused:
        main(["train", "text_classification", "--model", "tfidf_lr", "--target", "label"])
    assert refused.value.code == 2 and "unrecognized arguments: --target" in capsys.readouterr().err


def test_predict_decides_at_the_threshold_given(trained_gbm_dir, german_credit_csv, tmp_path) -> None:
    """--threshold replaces the stored threshold for this run (what "Run on Ray" sends), and
    a model without a threshold says so."""
    outputs = {}
    for threshold in ("0.05", "0.95"):
        out = tmp_path / f"at-{threshold}.parquet"
        assert main(["predict", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--threshold", threshold,
                     "--input", str(german_credit_csv), "--output", str(out)]) == 0
        outputs[threshold] = pl.read_parquet(out)
    low, high = outputs["0.05"], outputs["0.95"]
    assert low["p_bad"].equals(high["p_bad"])  # the same scores, decided at another cut-off
    assert (low["decision"] == "reject").sum() == (low["p_bad"] >= 0.05).sum() > (high["decision"] == "reject").sum()
    assert (high["decision"] == "reject").sum() == (high["p_bad"] >= 0.95).sum()


def test_columns_lists_what_predict_reads_and_returns(trained_gbm_dir, german_credit_csv, tmp_path, capsys) -> None:
    assert main(["columns", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--json"]) == 0
    declared = _last_json(capsys)
    inputs, outputs = [c["name"] for c in declared["inputs"]], [c["name"] for c in declared["outputs"]]
    assert outputs == ["p_bad", "score", "decision"] and "credit_amount" in inputs and "creditability" not in inputs
    only_inputs = tmp_path / "inputs.csv"
    pl.read_csv(german_credit_csv).select(inputs).write_csv(only_inputs)  # the declared inputs are enough
    out = tmp_path / "scored.parquet"
    assert main(["predict", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--input", str(only_inputs),
                 "--output", str(out)]) == 0
    assert pl.read_parquet(out).columns[:3] == outputs
