"""AppTest drives every page: Home, Models, and each domain page's five tabs."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from domains import registry
from domains.credit_risk.domain import CreditRiskDomain
from domains.labels import display_name, readable
from models.checkpoints import list_bundles
from tests.dashboard.waits import (
    TAB,
    model_box,
    number,
    show_tab,
    threshold_slider,
    wait_for_job,
    wait_for_model,
    wait_for_rows,
    wait_stopped,
)

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _credit_page(at: AppTest, tab: str = "Explore") -> AppTest:
    at.session_state[TAB] = tab
    return wait_for_model(at.switch_page("screens/credit_risk.py").run())


def test_home_renders_without_loading_models(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("Home must not load a model")

    monkeypatch.setattr(CreditRiskDomain, "load", refuse)
    monkeypatch.setattr(CreditRiskDomain, "load_data", refuse)
    at = _app().run()
    assert not at.exception
    assert [h.value for h in at.subheader] == [registry.get(k).title for k in registry.domain_keys()]
    text = " ".join(m.value for m in at.markdown)
    assert "Trained checkpoints:" in text and "LightGBM" in text
    assert any("Compute device: cpu" in c.value for c in at.caption)


def test_credit_page_all_tabs(trained_gbm_dir, monkeypatch) -> None:
    monkeypatch.setenv("DOMAINLENS_HOME", str(trained_gbm_dir.parents[2]))
    at = _credit_page(_app().run())
    assert not at.exception and not at.error
    labels = [t.label for t in at.tabs]
    assert [t for t in labels if t in {"Explore", "Predict", "Live", "Train", "Evaluate"}] == [
        "Explore", "Predict", "Live", "Train", "Evaluate"]
    assert any("gbm · v1" in o for o in model_box(at).options)
    assert len(at.get("plotly_chart")) >= 4 and any(df.value.shape[0] > 0 for df in at.dataframe)  # Explore
    assert "Decision threshold" not in " ".join(s.label for s in at.slider)  # only the open tab is drawn
    show_tab(at, "Predict")
    metrics = {m.label: m.value for m in at.metric}
    assert 0.0 <= number(metrics["Probability of default"]) <= 1.0
    assert metrics["Decision"] in {"approve", "reject"}
    assert at.get("plotly_chart")  # the waterfall
    show_tab(at, "Evaluate")
    assert number({m.label: m.value for m in at.metric}["AUC"]) > 0.7
    assert len(at.get("plotly_chart")) >= 4 and any(df.value.shape[0] > 0 for df in at.dataframe)  # fairness
    for tab in ("Live", "Train"):
        assert not show_tab(at, tab).exception and not at.error


def test_what_if_edit_changes_the_score() -> None:
    at = _credit_page(_app().run(), "Predict")
    before = number(next(m.value for m in at.metric if m.label == "Probability of default"))
    at.number_input(key=next(w.key for w in at.number_input if w.key and w.key.endswith("-credit_amount"))) \
        .set_value(18_000).run()
    duration = next(w for w in at.number_input if w.key and w.key.endswith("-duration_in_month"))
    duration.set_value(60).run()
    after = number(next(m.value for m in at.metric if m.label == "Probability of default"))
    assert not at.exception and after > before


def test_threshold_survives_page_and_tab_switches() -> None:
    at = _credit_page(_app().run(), "Predict")
    threshold_slider(at).set_value(0.42).run()
    show_tab(at, "Explore")
    assert not at.slider or all(not s.label.startswith("Decision threshold") for s in at.slider)
    show_tab(at, "Predict")
    assert threshold_slider(at).value == pytest.approx(0.42)
    at.switch_page("screens/home.py").run()
    at = _credit_page(at, "Predict")
    assert threshold_slider(at).value == pytest.approx(0.42)
    assert not at.exception


def test_train_then_cancel_leaves_no_bundle() -> None:
    at = _credit_page(_app().run(), "Train")
    at.selectbox(key="credit_risk-train-job-model").set_value("neural")
    at.selectbox(key="credit_risk-train-job-cv").set_value(5)
    at.button(key="credit_risk-train-job-start").click().run()
    time.sleep(1.0)
    at.run()
    at.button(key="credit_risk-train-job-cancel").click().run()
    wait_for_job(at, "credit_risk-train-job", 30)
    at.run()
    assert not at.exception
    assert any("cancelled" in w.value for w in at.warning)
    assert list_bundles("credit_risk") == []


def test_train_completes_and_registers_checkpoint() -> None:
    at = _credit_page(_app().run(), "Train")
    at.selectbox(key="credit_risk-train-job-model").set_value("scorecard")
    at.button(key="credit_risk-train-job-start").click().run()
    wait_for_job(at, "credit_risk-train-job")
    at.run()
    assert not at.exception
    bundles = list_bundles("credit_risk")
    assert len(bundles) == 1 and bundles[0].model == "scorecard"
    assert any("Trained and saved " + readable("scorecard", "credit_risk") in s.value for s in at.success)
    at.run()  # the new checkpoint becomes the page's model
    assert model_box(at).value == str(bundles[0].path)


def test_live_stream_start_and_stop() -> None:
    at = _credit_page(_app().run(), "Live")
    at.select_slider(key="credit_risk-live-run-rate").set_value(200)
    at.checkbox(key="credit_risk-live-run-simulate_drift").check()
    at.button(key="credit_risk-live-run-start").click().run()
    run = at.session_state["credit_risk-live-run"]
    # Drift starts at event 500 of 1,000; by ~950 the 500-event PSI window is drifted.
    wait_for_rows(run, 950)
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert number(metrics["Events scored"]) > 0 and metrics["Status"] == "running"
    assert any("Drift" in w.value for w in at.warning)  # PSI alert after the simulated shift
    at.button(key="credit_risk-live-run-stop").click().run()
    assert wait_stopped(run)
    assert not at.exception


def test_models_page_compares_two(trained_gbm_dir, monkeypatch) -> None:
    from dashboard.cli import main

    assert main(["train", "credit_risk", "--model", "scorecard"]) == 0
    assert main(["train", "credit_risk", "--model", "gbm", "--cv", "3"]) == 0
    at = _app().run().switch_page("screens/models.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    # The page's default model may have been prepared in the background meanwhile (Home starts
    # it): it is listed too, as a prepared default; the two trained here are the ones checked.
    trained = table[table["Kind"] == "trained here"]
    assert trained.shape[0] == 2 and all("AUC 0." in q for q in trained["Quality"])
    assert set(table["Kind"]) <= {"trained here", "prepared default"}
    menus = at.dataframe[1].value  # every menu model, fitted or not, with what it measured
    assert "Gradient-boosted trees (LightGBM)" in list(menus["Model"])
    comparison = at.dataframe[2].value
    assert comparison.shape[1] == 3 and "AUC" in list(comparison["Metric"])
    assert len(at.get("plotly_chart")) == 2  # ROC curves, and the fold scores the 3-fold run recorded
    curve = at.selectbox(key="models-curve")
    assert curve.value == "fold_auc" and display_name("fold_ks") in curve.options

    assert main(["train", "credit_risk", "--model", "scorecard", "--seed", "7"]) == 0  # a third: up to three compare
    at.run()
    picker = at.multiselect(key="models-compare")
    assert picker.label == "Pick two or three to compare" and len(picker.options) == at.dataframe[0].value.shape[0]
    from models.checkpoints import list_bundles

    picker.set_value([str(b.path) for b in list_bundles("credit_risk")]).run()
    assert not at.exception
    assert at.dataframe[2].value.shape[1] == 4  # the metric, then one column per model (two fits of one day apart)
    assert any(b.label == "Download comparison report" for b in at.get("download_button"))


def _visitor_page(visitor: str) -> AppTest:
    """The credit page in a new browser session at an address carrying ``visitor`` (a
    refresh is exactly this: a new session, the same address)."""
    at = _app()
    at.query_params["visitor"] = visitor
    return _credit_page(at.run(), "Train")


def _start_slow_training(at: AppTest) -> None:
    at.selectbox(key="credit_risk-train-job-model").set_value("neural")
    at.selectbox(key="credit_risk-train-job-cv").set_value(10)
    at.button(key="credit_risk-train-job-start").click().run()


def test_a_refreshed_page_finds_its_training_and_can_cancel_it() -> None:
    first = _visitor_page("analyst-1")
    _start_slow_training(first)
    job = first.session_state["credit_risk-train-job"]
    assert job.running
    refreshed = _visitor_page("analyst-1")
    assert refreshed.session_state["credit_risk-train-job"] is job  # reattached, not a new job
    assert refreshed.get("progress")  # its progress is on the page
    stranger = _visitor_page("analyst-2")
    assert "credit_risk-train-job" not in stranger.session_state  # someone else's page does not take it over
    assert not [b for b in stranger.button if b.key == "credit_risk-train-job-cancel"]
    refreshed.button(key="credit_risk-train-job-cancel").click().run()
    assert job.join(60) and job.state.value == "cancelled"
    refreshed.run()
    assert any("cancelled" in w.value for w in refreshed.warning)
    assert list_bundles("credit_risk") == []


def test_a_training_beyond_the_limit_is_queued_with_its_position(monkeypatch) -> None:
    monkeypatch.setenv("DOMAINLENS_MAX_TRAININGS", "2")
    pages = [_visitor_page(f"analyst-{i}") for i in range(3)]
    for at in pages:
        _start_slow_training(at)
    jobs = [at.session_state["credit_risk-train-job"] for at in pages]
    try:
        assert [j.state.value for j in jobs] == ["running", "running", "queued"]
        pages[2].run()
        assert any("queued (position 1)" in i.value for i in pages[2].info)
        assert pages[2].button(key="credit_risk-train-job-start").disabled  # Start waits while queued too
        jobs[0].cancel()
        assert jobs[0].join(60)
        deadline = time.time() + 30
        while jobs[2].state.value == "queued" and time.time() < deadline:
            time.sleep(0.1)
        assert jobs[2].state.value == "running"  # the freed slot went to the queue
    finally:
        for job in jobs:
            job.cancel()
        assert all(job.join(60) for job in jobs)
    assert list_bundles("credit_risk") == []
