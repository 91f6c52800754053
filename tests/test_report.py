"""Model reports: the CLI's ``domainlens report`` writes one HTML file whose metrics are
``domainlens evaluate --json``'s, whose intervals repeat with the seed, which compares two
models on the same axes, and which refuses bad input in one line without leaving a file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch

from dashboard.cli import main
from domains import registry
from domains.labels import label_of
from domains.metrics import bootstrap_intervals, outcomes_frame
from domains.report import build_html, report_models


def _figures(document: str) -> list[dict[str, Any]]:
    """The charts a report draws, as the plotly figures it holds."""
    return [json.loads(spec.replace("<\\/", "</"))
            for spec in re.findall(r"<script type='application/json' class='figure'>(.*?)</script>", document, re.S)]


def _titles(figure: dict[str, Any]) -> str:
    title = figure["layout"].get("title", {})
    return title.get("text", "") if isinstance(title, dict) else str(title)


def test_report_metrics_are_evaluate_json_s(trained_gbm_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]
    domain = registry.get("credit_risk")
    data = domain.load_data()
    [model] = report_models(domain, [trained_gbm_dir], data, "test", device=torch.device("cpu"))
    assert set(expected) == set(model.report.metrics)
    for key, value in expected.items():
        assert model.report.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    out = tmp_path / "credit.html"
    assert main(["report", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--output", str(out)]) == 0
    document = out.read_text()
    low, high = model.intervals["auc"]
    assert low < expected["auc"] < high
    assert f"{expected['auc']:.3f} ({low:.3f} to {high:.3f})" in document  # the AUC with its interval
    assert len(_figures(document)) == len(domain.charts(model.report))  # every chart the Evaluate tab draws
    assert "Fairness by group" in document  # the credit extras: fairness, and the cost-optimal threshold
    assert f"<th>{label_of('optimal_threshold', 'credit_risk').name}</th>" in document
    assert "https://" not in document.split("id='plotly-js'")[0]  # nothing to fetch: the library is inlined


def test_intervals_repeat_with_the_seed_and_move_without_it() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    outcomes = outcomes_frame(y, (p >= 0.5).astype(int), p)
    first, again = bootstrap_intervals(outcomes, seed=7), bootstrap_intervals(outcomes, seed=7)
    assert first == again
    assert bootstrap_intervals(outcomes, seed=8)["auc"] != first["auc"]
    assert set(first) == {"accuracy", "acc", "auc", "sensitivity", "specificity"}
    assert all(low <= high for low, high in first.values())


def test_two_credit_models_side_by_side_on_the_same_axes(trained_gbm_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    assert main(["report", "credit_risk", "--checkpoint", str(trained_gbm_dir), "--model", "scorecard",
                 "--output", str(out)]) == 0
    document = out.read_text()
    assert "Side by side" in document
    assert "Gradient-boosted trees (LightGBM) · v1" in document and "Logistic-regression scorecard" in document
    roc = next(f for f in _figures(document) if _titles(f) == "ROC curves")
    assert [t["name"] for t in roc["data"]] == ["Gradient-boosted trees (LightGBM) · v1",
                                                "Logistic-regression scorecard"]
    assert all(len(t["x"]) > 10 for t in roc["data"])
    table = document.split("id='comparison'")[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 9  # the header and the nine headline metrics, both models in each


def _one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2  # a DomainLensError: said in words, not a traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    return err[-1]


def test_bad_input_gets_one_line_and_no_report(trained_gbm_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    broken = tmp_path / "broken"
    shutil.copytree(trained_gbm_dir, broken)
    (broken / "model.safetensors").unlink()
    assert "model.safetensors" in _one_line_error(capsys, "report", "credit_risk", "--checkpoint", str(broken),
                                                   "--output", str(out))
    wrong = tmp_path / "wrong.csv"
    pl.DataFrame({"age": [30, 40], "creditability": [1, 0]}).write_csv(wrong)
    assert "column" in _one_line_error(capsys, "report", "credit_risk", "--checkpoint", str(trained_gbm_dir),
                                       "--data", str(wrong), "--output", str(out)).lower()
    assert "'holdout' split" in _one_line_error(capsys, "report", "credit_risk", "--model", "scorecard",
                                                "--split", "holdout", "--output", str(out))
    missing = tmp_path / "no" / "such" / "folder" / "report.html"
    assert "does not exist" in _one_line_error(capsys, "report", "credit_risk", "--model", "scorecard",
                                               "--output", str(missing))
    assert "name a model" in _one_line_error(capsys, "report", "credit_risk", "--output", str(out))
    assert not out.exists() and not list(tmp_path.glob(".report.html.*"))  # nothing half-written


def test_user_text_in_a_report_is_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A review in the mistakes table is escaped, never markup."""
    from domains.base import Report
    from domains.report import ReportModel

    domain = registry.get("text_classification")
    monkeypatch.setattr(domain, "charts", lambda report: {})  # the table is what this checks
    frames = {"mistakes": pl.DataFrame({"text": ["<script>alert(1)</script> <b>bold</b>"], "actual": ["positive"],
                                        "predicted": ["negative"], "confidence": [0.9]})}
    report = Report({"accuracy": 0.5}, frames, tables={"mistakes": "Misclassified"})
    document = build_html(domain, [ReportModel("m", {"Model": "<i>m</i>"}, report)], split="test",
                          data_name="<u>data</u>", plotly_js=lambda: "")
    body = document.split("<body>")[1].split("id='plotly-js'")[0]
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>bold</b>" not in body and "<i>m</i>" not in body and "<u>data</u>" not in body


def test_a_text_report_explains_its_most_confident_mistakes(text_tfidf_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "text.html"
    assert main(["report", "text_classification", "--checkpoint", str(text_tfidf_dir), "--output", str(out)]) == 0
    document = out.read_text()
    assert "Why the most confident mistakes" in document
    mistakes = re.findall(r"Mistake \d: labelled (\w+), read as (\w+)", document)
    assert 1 <= len(mistakes) <= 3 and all(actual != read for actual, read in mistakes)
    words = [f for f in _figures(document) if "Words that moved the prediction" in _titles(f)]
    assert len(words) == len(mistakes) and all(f["data"][0]["x"] for f in words)
