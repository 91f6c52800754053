"""The text classification CLI forms the issue fixes: train on a built-in dataset or a
file with named columns, evaluate a text,label CSV as it is, predict a CSV."""

import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.cli import main

KEY = "text_classification"


def _last_json(capsys: pytest.CaptureFixture) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow  # TF-IDF on all 1,700 training articles, its C picked on validation
def test_train_on_builtin_dataset(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", KEY, "--model", "tfidf_lr", "--dataset", "bbc_topics", "--json"]) == 0
    payload = _last_json(capsys)
    assert payload["model"] == "tfidf_lr" and payload["metrics"]["val_macro_f1"] > 0.9
    meta = json.loads(Path(payload["checkpoint"], "metadata.json").read_text())
    assert meta["labels"] == ["business", "entertainment", "politics", "sport", "tech"]


def test_train_on_file_with_named_columns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = [{"body": f"{'refund my card payment' if i % 2 else 'cannot log in password'} {i}", "team": i % 2}
            for i in range(200)]
    path = tmp_path / "tickets.parquet"
    pl.DataFrame(rows).write_parquet(path)
    assert main(["train", KEY, "--model", "tfidf_lr", "--data", str(path), "--text-col", "body",
                 "--label-col", "team", "--json"]) == 0
    assert _last_json(capsys)["metrics"]["val_accuracy"] == 1.0


def test_evaluate_csv_as_is_and_predict(text_tfidf_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "held_out.csv"
    pl.DataFrame({"text": ["A dull, lifeless and boring film.", "A warm, funny and moving triumph.",
                           "Tedious and badly acted.", "One of the best films of the year."],
                  "label": ["negative", "positive", "negative", "positive"]}).write_csv(csv)
    assert main(["evaluate", KEY, "--checkpoint", str(text_tfidf_dir), "--data", str(csv), "--json"]) == 0
    metrics = _last_json(capsys)["metrics"]
    assert {"accuracy", "macro_f1"} <= set(metrics) and metrics["texts"] == 4  # every row, not a 10% split
    assert metrics["accuracy"] >= 0.75
    out = tmp_path / "out.csv"
    assert main(["predict", KEY, "--checkpoint", str(text_tfidf_dir), "--input", str(csv), "--output", str(out)]) == 0
    scored = pl.read_csv(out)
    assert scored.height == 4 and {"prediction", "confidence", "p_positive", "text"} <= set(scored.columns)


def test_evaluate_with_unknown_labels_says_what_the_model_knows(text_tfidf_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "stars.csv"
    pl.DataFrame({"text": ["good", "bad"], "label": ["5 stars", "1 star"]}).write_csv(csv)
    assert main(["evaluate", KEY, "--checkpoint", str(text_tfidf_dir), "--data", str(csv)]) == 2
    assert "negative, positive" in capsys.readouterr().err


def test_missing_text_column_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "x.csv"
    pl.DataFrame({"review": ["good", "bad"], "label": ["p", "n"]}).write_csv(csv)
    assert main(["train", KEY, "--model", "tfidf_lr", "--data", str(csv), "--text-col", "comment"]) == 2
    err = capsys.readouterr().err
    assert "No column 'comment'" in err and "Traceback" not in err


def test_single_class_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    csv = tmp_path / "one.csv"
    pl.DataFrame({"text": [f"text {i}" for i in range(40)], "label": ["spam"] * 40}).write_csv(csv)
    assert main(["train", KEY, "--model", "tfidf_lr", "--data", str(csv)]) == 2
    assert "single class" in capsys.readouterr().err


def test_models_lists_the_menu() -> None:
    from domains import registry

    keys = [s.key for s in registry.get(KEY).models()]
    assert keys[0] == "tfidf_lr" and {"zero_shot", "minilm_linear", "minilm_finetune"} <= set(keys)


def _reviews_csv(small_reviews, path: Path, n: int = 120) -> Path:
    small_reviews.frame.select("text", "label").tail(n).write_csv(path)
    return path


def test_json_says_which_path_scored_on_this_machine(tiny_classifier_dir: Path, small_reviews, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from models.ct2 import INT8_PATH
    from models.fastpath import EXACT
    from tests.text_fixtures import break_fast_paths

    csv = _reviews_csv(small_reviews, tmp_path / "reviews.csv")
    args = ["evaluate", KEY, "--checkpoint", str(tiny_classifier_dir), "--data", str(csv), "--json"]
    assert main(args) == 0
    agreed = _last_json(capsys)
    assert agreed["scoring"]["used"] == INT8_PATH and agreed["scoring"]["fast"] is True
    assert agreed["scoring"]["checks"][0]["passed"] and agreed["scoring"]["machine_id"]
    # A machine where both int8 engines disagree with float32: exact scoring, and the JSON says so.
    monkeypatch.setenv("DOMAINLENS_HOME", str(tmp_path / "other-machine"))
    break_fast_paths(monkeypatch, torch_int8=True)
    assert main(args) == 0
    captured = capsys.readouterr()
    exact = json.loads(captured.out.strip().splitlines()[-1])
    assert exact["scoring"]["used"] == EXACT and exact["scoring"]["fast"] is False
    assert [c["passed"] for c in exact["scoring"]["checks"]] == [False, False]
    assert "disagreed" in captured.err
    assert exact["metrics"]["accuracy"] == pytest.approx(agreed["metrics"]["accuracy"], abs=0.02)


@pytest.mark.slow  # default suite: two CTranslate2 conversions; one is checked by the default suite
def test_both_ctranslate2_backends_give_the_same_answers(tiny_classifier_dir: Path, small_reviews,
                                                         tmp_path: Path) -> None:
    """The CLI in fresh processes under CTranslate2's MKL and oneDNN int8 backends, and under
    oneDNN capped at AVX2 (what a CPU without VNNI runs: pair sums in saturating 16 bits):
    the fast path is checked and kept on each, and the metrics agree (7-bit weights)."""
    import os
    import subprocess
    import sys

    from models.ct2 import INT8_PATH

    csv = _reviews_csv(small_reviews, tmp_path / "reviews.csv")
    runs = {"mkl": {"CT2_USE_MKL": "1"}, "onednn": {"CT2_USE_MKL": "0"},
            "onednn-avx2": {"CT2_USE_MKL": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}}
    procs = {}
    for name, switches in runs.items():  # side by side: most of each run is start-up
        env = {**os.environ, **switches, "DOMAINLENS_HOME": str(tmp_path / name)}
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "evaluate", KEY, "--checkpoint", str(tiny_classifier_dir),
             "--data", str(csv), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results[name] = json.loads(out.strip().splitlines()[-1])
    for name, payload in results.items():
        scoring = payload["scoring"]
        assert scoring["used"] == INT8_PATH and scoring["fast"] and scoring["checks"][0]["passed"], name
    assert "on MKL" in results["mkl"]["scoring"]["machine"]
    assert "on oneDNN" in results["onednn"]["scoring"]["machine"]
    assert "no int8 dot product" in results["onednn-avx2"]["scoring"]["machine"]
    assert len({r["scoring"]["machine_id"] for r in results.values()}) == 3  # three verdicts, one per set-up
    metrics = [r["metrics"] for r in results.values()]
    assert {m["accuracy"] for m in metrics} == {metrics[0]["accuracy"]}
    # The int8 sums are exact on every kernel, so only float rounding differs (1e-10 measured);
    # 8-bit weights moved the AVX2-capped run's log loss by 1.5e-4 and its ECE by 0.006.
    for name in ("log_loss", "ece"):
        assert max(m[name] for m in metrics) - min(m[name] for m in metrics) < 1e-6, name
