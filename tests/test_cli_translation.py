"""The translation CLI forms the issue fixes: list models (offline default first),
predict a text file, evaluate a parallel TSV and the Bible corpus both ways, train a
Hugging Face model on a TSV and use its checkpoint."""

import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.cli import main

KEY = "translation"


def _last_json(capsys: pytest.CaptureFixture) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_models_lists_the_offline_engine_first(capsys: pytest.CaptureFixture) -> None:
    assert main(["models", KEY]) == 0
    first = capsys.readouterr().out.splitlines()[0].split("\t")
    assert first[0] == "offline" and first[-1] == "default"


def test_predict_text_file_keeps_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes("The garden is green.\n\nCafé and bread, please.\n".encode("cp1252"))
    out = tmp_path / "out.txt"
    assert main(["predict", KEY, "--model", "offline", "--src", "en", "--tgt", "pt", "--input", str(source),
                 "--output", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and lines[1] == "" and "jardim" in lines[0] and "pão" in lines[2]


def test_evaluate_tsv_and_bible_both_directions(pairs_tsv: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", KEY, "--model", "offline", "--data", str(pairs_tsv), "--src", "en", "--tgt", "pt",
                 "--json"]) == 0
    metrics = _last_json(capsys)["metrics"]
    assert metrics["sentences"] == 60 and metrics["chrf"] > 40 and metrics["bleu"] > 15
    assert main(["evaluate", KEY, "--model", "offline", "--dataset", "bible_pt_en", "--split", "val",
                 "--json"]) == 0
    back = _last_json(capsys)["metrics"]
    assert back["sentences"] == 200 and back["chrf"] > 45


def test_bad_requests_exit_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n")
    assert main(["predict", KEY, "--model", "offline", "--src", "en", "--tgt", "fr", "--input", str(source),
                 "--output", str(tmp_path / "o.txt")]) == 2
    assert "offers: English->Portuguese" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    assert main(["predict", KEY, "--model", "offline", "--input", str(empty), "--output",
                 str(tmp_path / "o.txt")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["predict", KEY, "--model", "opus_mt_en_pt", "--input", str(source), "--output",
                 str(tmp_path / "o.txt")]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err  # a hub model offline: what to do, not a traceback


def test_train_on_tsv_then_predict_with_the_checkpoint(pairs_tsv: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["train", KEY, "--model", "marian_scratch", "--data", str(pairs_tsv), "--src", "en", "--tgt", "pt",
                 "--epochs", "1", "--json"]) == 0
    payload = _last_json(capsys)
    assert payload["model"] == "marian_scratch" and "val_chrf" in payload["metrics"]
    table = tmp_path / "in.csv"
    pl.DataFrame({"text": ["In the beginning.", ""]}).write_csv(table)
    out = tmp_path / "out.csv"
    assert main(["predict", KEY, "--checkpoint", payload["checkpoint"], "--input", str(table), "--output",
                 str(out)]) == 0
    result = pl.read_csv(out)
    assert result.height == 2 and result["translation"][0] and "empty" in result["note"][1]
