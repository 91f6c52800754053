"""AppTest drives every tab of the Text Classification page."""

import re
from html import escape
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from domains.labels import display_name, readable
from models.checkpoints import list_bundles
from tests.dashboard.waits import (
    APP,
    number,
    open_page,
    show_tab,
    tab_of,
    wait_for_batch,
    wait_for_job,
    wait_for_model,
    wait_for_rows,
    wait_stopped,
)

KEY = "text_classification"


@pytest.fixture
def page(text_tfidf_dir: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AppTest:
    monkeypatch.setenv("DOMAINLENS_HOME", str(text_tfidf_dir.parents[2]))  # the trained model is listed first
    return open_page(KEY, tab=tab_of(request))


def _charts(at: AppTest) -> str:
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def _text_area(at: AppTest):  # type: ignore[no-untyped-def]
    return next(t for t in at.text_area if t.label == "Text to classify")


def test_every_tab_renders(page: AppTest) -> None:
    at = page
    assert not at.exception and not at.error
    specs = _charts(at)
    assert "Classes by split" in specs and "Most distinctive words" in specs
    assert not at.metric  # only the open tab is drawn: Predict's and Evaluate's wait for their click
    show_tab(at, "Predict")
    labels = [t.label for t in at.tabs]
    for tab in ("Explore", "Predict", "Live", "Train", "Evaluate", "One text (word attributions)", "Batch file"):
        assert tab in labels
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prediction"] in {"negative", "positive"} and metrics["Confidence"].endswith("%")
    assert any("<span" in m.value for m in at.markdown)  # the highlighted text
    specs += _charts(at)
    show_tab(at, "Evaluate")
    metrics = {m.label: m.value for m in at.metric}
    assert number(metrics["Accuracy"]) > 0.7 and "Macro F1" in metrics
    specs += _charts(at)
    for title in ("Class probabilities", "Words that moved",
                  "Confusion matrix", "Calibration", "Confidence of right and wrong", "Precision, recall"):
        assert title in specs, title
    tables = [df.value for df in at.dataframe]  # the misclassified examples:
    assert any({display_name("confidence"), display_name("actual")} <= set(t.columns) for t in tables)
    show_tab(at, "Train")
    assert f"{KEY}-train-job-cv" not in [s.key for s in at.selectbox]
    assert not show_tab(at, "Live").exception and not at.error


@pytest.mark.tab("Predict")
def test_typed_text_is_escaped_and_bad_text_is_explained(page: AppTest) -> None:
    at = page
    typed = '<script>alert("x")</script> a dull, <b>boring</b> film'
    _text_area(at).input(typed).run()
    assert not at.exception
    html = next(m.value for m in at.markdown if "<span" in m.value)
    assert "<script" not in html and "<b>" not in html
    # Only our span/div tags are markup: without them, what is left is exactly the escaped text.
    assert re.sub(r"</?(span|div)[^>]*>", "", html) == escape(typed)
    _text_area(at).input("   ").run()
    assert any("empty" in i.value for i in at.info) and not at.exception
    _text_area(at).input("a long and winding review " * 4000).run()
    assert any("read only its beginning" in w.value for w in at.warning) and not at.exception
    _text_area(at).input("Loved it 😍 فيلم رائع 电影很好看").run()
    assert not at.exception and not at.error


def test_upload_with_column_pickers_and_non_utf8(page: AppTest) -> None:
    at = page
    at.radio(key=f"{KEY}-data-choice").set_value("upload").run()
    rows = [("Café crème, très bon film", "good"), ("mauvais goût, ennuyeux", "bad")] * 20
    payload = pl.DataFrame({"comment": [r[0] for r in rows], "verdict": [r[1] for r in rows]}).write_csv()
    at.sidebar.file_uploader[0].set_value(("fr.csv", payload.encode("cp1252"), "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key=f"{KEY}-upload-text_col").value == "comment"
    at.selectbox(key=f"{KEY}-upload-label_col").set_value("verdict").run()
    assert any("not UTF-8" in i.value for i in at.info)
    assert not at.exception


@pytest.mark.tab("Predict")
def test_batch_file(page: AppTest) -> None:
    at = page
    payload = pl.DataFrame({"id": [1, 2, 3], "review": ["a dull mess", "", "a joyous triumph"]}).write_csv()
    at.file_uploader(key=f"{KEY}-batch-upload").set_value(("batch.csv", payload.encode(), "text/csv")).run()
    wait_for_batch(at, KEY)
    assert not at.exception
    assert any("Scored 3 rows" in s.value for s in at.success)
    table = next(df.value for df in at.dataframe if display_name("prediction") in df.value.columns)
    assert table[display_name("prediction")].isna().sum() == 1 and "empty text" in str(table[display_name("note")][1])
    job = at.session_state[f"{KEY}-batch-job"]
    at.run()  # any click reruns the page: the kept result is shown, the file is not scored again
    assert at.session_state[f"{KEY}-batch-job"] is job and any("Scored 3 rows" in s.value for s in at.success)


def test_a_refreshed_page_shows_its_last_batch_and_nobody_elses(text_tfidf_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINLENS_HOME", str(text_tfidf_dir.parents[2]))

    def visit(visitor: str) -> AppTest:  # a refresh is a new session at the same address
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["visitor"] = visitor
        at.query_params["tab"] = "Predict"  # the address the refreshed page had
        return wait_for_model(at.run().switch_page(f"screens/{KEY}.py").run())

    first = visit("reader-1")
    payload = pl.DataFrame({"text": ["a joyous triumph", "a dull mess"]}).write_csv()
    first.file_uploader(key=f"{KEY}-batch-upload").set_value(("mine.csv", payload.encode(), "text/csv")).run()
    wait_for_batch(first, KEY)
    refreshed = visit("reader-1")
    assert any("Your last batch: mine.csv" in c.value for c in refreshed.caption)
    assert any("Scored 2 rows" in s.value for s in refreshed.success)
    stranger = visit("reader-2")
    assert not any("mine.csv" in c.value for c in stranger.caption)
    assert not any("Scored" in s.value for s in stranger.success)


@pytest.mark.tab("Live")
def test_live_feed(page: AppTest) -> None:
    at = page
    at.select_slider(key=f"{KEY}-live-run-rate").set_value(1000)
    at.button(key=f"{KEY}-live-run-start").click().run()
    run = at.session_state[f"{KEY}-live-run"]
    wait_for_rows(run, 200)
    at.run()
    assert not run.error and not at.exception
    assert "Rolling class mix" in _charts(at)
    assert any({display_name("prediction"), display_name("text")} <= set(df.value.columns) for df in at.dataframe)
    at.button(key=f"{KEY}-live-run-stop").click().run()
    assert wait_stopped(run)


@pytest.mark.tab("Train")
def test_train_tab_registers_a_checkpoint_and_compare(page: AppTest) -> None:
    at = page
    at.selectbox(key=f"{KEY}-train-job-model").set_value("tfidf_lr")
    at.button(key=f"{KEY}-train-job-start").click().run()
    wait_for_job(at, f"{KEY}-train-job")
    at.run()
    assert not at.exception
    assert any("Trained and saved " + readable("tfidf_lr", "text_classification") in s.value for s in at.success)
    assert len(list_bundles(KEY)) == 2
    show_tab(at, "Evaluate")  # the new checkpoint, compared with the others there
    at.button(key=f"{KEY}-compare-run").click().run()
    assert not at.exception and "Accuracy vs speed" in _charts(at)
    table = next(df.value for df in at.dataframe if display_name("texts_per_s") in df.value.columns)
    assert len(table) >= 2 and (table[display_name("accuracy")] > 70).all()  # percentages


def test_model_caption_says_which_path_scores_on_this_machine(tiny_classifier_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tests.text_fixtures import break_fast_paths

    for name, broken in (("agrees", False), ("disagrees", True)):
        home = tmp_path / name  # another checkpoint folder: the dashboard's model cache holds it apart
        shutil.copytree(tiny_classifier_dir, home / KEY / "minilm_finetune" / "v1")
        monkeypatch.setenv("DOMAINLENS_HOME", str(home))
        if broken:
            break_fast_paths(monkeypatch, torch_int8=True)
        at = open_page(KEY, tab="Predict")
        assert not at.exception
        caption = next(c for c in at.sidebar.caption if c.value.startswith("Scoring:"))
        if broken:
            assert caption.value == "Scoring: float32 (exact): the int8 fast path disagreed with it on this machine."
        else:
            assert caption.value == "Scoring: CTranslate2 int8 (7-bit weights), checked on this machine."
        assert "probes" in caption.proto.help  # the numbers are one hover away
        assert any(m.label == "Prediction" for m in at.metric)  # the page works on either path


def test_the_page_opens_on_the_best_checkpoint_not_the_newest(text_tfidf_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A newer checkpoint with lower validation accuracy is listed, but the page opens on
    the more accurate one (the text domain's default_metric)."""
    import shutil

    from tests.text_fixtures import copy_newer_and_worse

    home = tmp_path / "home"
    best = home / KEY / "tfidf_lr" / "best"
    shutil.copytree(text_tfidf_dir, best)
    copy_newer_and_worse(text_tfidf_dir, home / KEY / "tfidf_lr" / "worse")
    monkeypatch.setenv("DOMAINLENS_HOME", str(home))
    assert [b.path.name for b in list_bundles(KEY)] == ["worse", "best"]  # the newest is listed first
    at = open_page(KEY)
    assert not at.exception
    menu = next(s for s in at.sidebar.selectbox if s.label == "Model")
    assert menu.value == str(best)


def test_the_page_opens_on_the_best_checkpoint_that_keeps_up(text_tfidf_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A more accurate checkpoint that scored under 200 texts/s (MPNet on 2 cores) is listed,
    but the page opens on the best one that keeps up; with only slow ones, on the best of them."""
    import json
    import shutil

    from domains.text_classification.domain import MIN_DEFAULT_RATE
    from domains.text_classification.train import SCORING_RATE

    def copy(name: str, accuracy_change: float, rate: float) -> Path:
        target = tmp_path / "home" / KEY / "tfidf_lr" / name
        shutil.copytree(text_tfidf_dir, target)
        meta = json.loads((target / "metadata.json").read_text())
        meta["metrics"]["val_accuracy"] += accuracy_change
        meta["metrics"][SCORING_RATE] = rate
        (target / "metadata.json").write_text(json.dumps(meta))
        return target

    fast = copy("fast", 0.0, MIN_DEFAULT_RATE * 5)
    slow = copy("slow", 0.05, MIN_DEFAULT_RATE / 4)
    monkeypatch.setenv("DOMAINLENS_HOME", str(tmp_path / "home"))
    at = open_page(KEY)
    assert not at.exception
    menu = next(s for s in at.sidebar.selectbox if s.label == "Model")
    assert menu.value == str(fast) and any(" · slow · " in option for option in menu.options)
    shutil.rmtree(fast)
    at = open_page(KEY)
    assert next(s for s in at.sidebar.selectbox if s.label == "Model").value == str(slow)
