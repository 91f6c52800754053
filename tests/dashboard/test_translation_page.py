"""AppTest drives every tab of the Translation page: the offline engine by default, and
a tiny local Marian checkpoint for token streaming, Stop and CTranslate2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from domains.labels import display_name, readable
from models.checkpoints import list_bundles
from tests.dashboard.waits import (
    block_text,
    click_button,
    open_page,
    show_tab,
    tab_of,
    wait_for_job,
    wait_for_rows,
    wait_stopped,
)

KEY = "translation"


@pytest.fixture
def page(request: pytest.FixtureRequest) -> AppTest:
    return open_page(KEY, timeout=300, tab=tab_of(request))


@pytest.fixture
def marian_page(tiny_marian_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DOMAINLENS_HOME", str(tiny_marian_checkpoint.parents[2]))  # listed first in the picker
    return open_page(KEY, timeout=300, tab="Predict")


def _charts(at: AppTest) -> str:
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def _source(at: AppTest):  # type: ignore[no-untyped-def]
    return next(t for t in at.text_area if t.label == "Text to translate")


def _translation(at: AppTest) -> str:
    return block_text(at, f"{KEY}-translate-output")


def test_every_tab_renders(page: AppTest) -> None:
    at = page
    assert not at.exception and not at.error
    specs = _charts(at)
    show_tab(at, "Predict")
    labels = [t.label for t in at.tabs]
    for tab in ("Explore", "Predict", "Live", "Train", "Evaluate", "Translate (streaming)", "Documents and tables"):
        assert tab in labels
    assert any("Detected language: English" in c.value for c in at.caption)
    show_tab(at, "Evaluate")
    assert not any(m.label == "chrF" for m in at.metric)  # evaluation waits for a click
    at.button(key=f"{KEY}-eval-go").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["chrF"]) > 45 and float(metrics["BLEU"]) > 20 and metrics["Sentences"] == "500"
    specs += _charts(at)
    for title in ("Sentence length", "Source vs reference length", "Per-sentence chrF", "Length ratio per sentence"):
        assert title in specs, title
    shown = {display_name("chrf", KEY), display_name("translation", KEY)}
    assert any(shown <= set(df.value.columns) for df in at.dataframe)
    for tab in ("Live", "Train"):
        assert not show_tab(at, tab).exception and not at.error


@pytest.mark.tab("Predict")
def test_translate_streams_and_shows_sentences_side_by_side(page: AppTest) -> None:
    at = page
    _source(at).input("The river is wide. The bridge is old and beautiful.")
    click_button(at, "Translate")
    assert not at.exception
    out = _translation(at)
    assert "rio" in out.lower() and "ponte" in out.lower()
    side = next(df.value for df in at.dataframe if "Portuguese" in df.value.columns)
    assert len(side) == 2 and side["English"][0] == "The river is wide."
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["time to first output"].endswith(" s") and metrics["sentences translated"] == "2"


@pytest.mark.tab("Predict")
def test_other_language_is_detected_and_offered(page: AppTest) -> None:
    at = page
    _source(at).input("Eu gosto muito de ler livros no jardim.")
    click_button(at, "Translate")
    assert any("looks like Portuguese" in w.value for w in at.warning)
    assert "garden" in _translation(at).lower()  # translated Portuguese -> English, as offered


@pytest.mark.tab("Predict")
def test_markup_and_bad_input_are_safe(page: AppTest) -> None:
    at = page
    typed = 'Click <img src=x onerror="alert(1)"> and read the **manual**.'
    _source(at).input(typed)
    click_button(at, "Translate")
    assert not at.exception
    assert "<img src=x" in _translation(at)  # markup kept, as text
    assert not any(re.search(r"(?<!\\)<img", m.value) for m in at.markdown)  # escaped: never HTML
    _source(at).input("   ")
    click_button(at, "Translate")
    assert any("empty" in i.value for i in at.info) and not at.exception
    at.selectbox(key=f"{KEY}-translate-tgt").set_value("pt").run()
    assert at.selectbox(key=f"{KEY}-translate-tgt").options == ["Portuguese"]  # only offered pairs


@pytest.mark.tab("Predict")
def test_document_upload_translates_with_layout(page: AppTest) -> None:
    at = page
    doc = "# Notes\n\nThe meeting is on Monday.\n\n- Bring the `report`.\n".encode("cp1252")
    at.file_uploader(key=f"{KEY}-translate-batch-upload").set_value(("notes.md", doc, "text/markdown")).run()
    at.button(key=f"{KEY}-translate-batch-doc-go").click().run()
    assert not at.exception
    code = next(c.value for c in at.code)
    assert code.startswith("# ") and "`report`" in code and "segunda" in code.lower()
    table = b"text,id\nGood morning,1\n,2\n"
    at.file_uploader(key=f"{KEY}-translate-batch-upload").set_value(("t.csv", table, "text/csv")).run()
    at.button(key=f"{KEY}-translate-batch-table-go").click().run()
    result = next(df.value for df in at.dataframe if "text_pt" in df.value.columns)
    assert result["text_pt"][0] and "empty" in str(result["translation_note"][1])


@pytest.mark.tab("Live")
def test_live_feed_translates_mixed_messages(page: AppTest) -> None:
    at = page
    at.select_slider(key=f"{KEY}-live-run-rate").set_value(20)
    at.button(key=f"{KEY}-live-run-start").click().run()
    run = at.session_state[f"{KEY}-live-run"]
    wait_for_rows(run, 30, timeout=60)
    at.run()
    assert not run.error and not at.exception
    assert "Latency per message" in _charts(at) and "Language mix" in _charts(at)
    table = next(df.value for df in at.dataframe if display_name("ttft_ms", KEY) in df.value.columns)
    assert {"English → Portuguese", "Portuguese → English"} <= set(table[display_name("pair")].dropna())
    at.button(key=f"{KEY}-live-run-stop").click().run()
    assert wait_stopped(run)


def test_marian_checkpoint_streams_tokens_and_ctranslate2(marian_page: AppTest) -> None:
    at = marian_page
    assert not at.exception and not at.error
    assert any("transformers" in c.value for c in at.caption) or at.radio(key=f"{KEY}-translate-backend")
    _source(at).input("And God said, Let there be light.")
    click_button(at, "Translate")
    assert not at.exception and _translation(at)
    at.radio(key=f"{KEY}-translate-backend").set_value("CTranslate2 (int8)").run()
    click_button(at, "Translate")
    assert not at.exception and _translation(at)
    assert any("ctranslate2" in c.value for c in at.caption)


@pytest.mark.tab("Train")
def test_train_tab_registers_a_checkpoint(page: AppTest) -> None:
    at = page
    at.radio(key=f"{KEY}-data-choice").set_value("upload").run()
    lines = "\n".join(f"Line {i} of the book.\tLinha {i} do livro." for i in range(60))
    at.sidebar.file_uploader[0].set_value(("pairs.tsv", lines.encode(), "text/tab-separated-values")).run()
    assert not at.exception
    at.selectbox(key=f"{KEY}-train-job-model").set_value("marian_scratch")
    at.number_input(key=f"{KEY}-train-job-epochs").set_value(1)
    at.button(key=f"{KEY}-train-job-start").click().run()
    wait_for_job(at, f"{KEY}-train-job", timeout=300)
    at.run()
    assert not at.exception
    assert any("Trained and saved " + readable("marian_scratch", "translation") in s.value for s in at.success)
    assert len(list_bundles(KEY)) == 1
