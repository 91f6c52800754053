"""What an analyst preparing a demo does, in a real browser: Live's Start/Stop follow the
stream, a page opens on a model made for the selected data, and each model keeps its own
decision threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.credit_data import custom_credit_csv
from tests.e2e.ui import (
    choose_model,
    expect,
    expect_listed,
    install,
    metric,
    metric_number,
    model_box,
    open_page,
    open_tab,
)
from tests.text_fixtures import copy_newer_and_worse

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def other_schema_gbm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A credit model trained on an uploaded file with other columns than German Credit."""
    import torch

    from domains import registry
    from domains.base import TrainSettings
    from domains.training import train_and_save
    from models.control import CancelToken

    folder = tmp_path_factory.mktemp("other-schema")
    csv = custom_credit_csv(folder / "loans.csv")
    domain = registry.get("credit_risk")
    data = domain.read_upload("loans.csv", csv.read_bytes(), target="outcome", bad="bad")
    out = folder / "gbm"
    train_and_save(domain, domain.models()[0], data, TrainSettings(), device=torch.device("cpu"),
                   progress=lambda p: None, cancel=CancelToken(), out_dir=out)
    return out


@pytest.mark.slow  # default suite: the credit walk in test_pages.py starts and stops Live
def test_live_stop_is_clickable_while_the_stream_runs(browser_page) -> None:
    page = browser_page
    open_page(page, "Credit Risk")
    open_tab(page, "Live")
    start = page.get_by_role("button", name="Start", exact=True)
    stop = page.get_by_role("button", name="Stop", exact=True)
    start.click()
    expect()(page.locator('[data-testid="stMetric"]').filter(has_text="running").first).to_be_visible(timeout=60_000)
    expect()(stop).to_be_enabled(timeout=5_000)
    expect()(start).to_be_disabled()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => /events scored/i.test(m.innerText) && /[1-9]/.test(m.innerText.split('\\n').pop()))""",
                           timeout=60_000)
    stop.click()
    expect()(page.locator('[data-testid="stMetric"]').filter(has_text="stopped").first).to_be_visible(timeout=10_000)
    expect()(start).to_be_enabled(timeout=5_000)
    expect()(stop).to_be_disabled()
    scored = metric_number(page, "events scored")
    page.wait_for_timeout(2_500)
    assert metric_number(page, "events scored") == scored  # nothing more is scored after Stop
    # Refresh, and leave and come back: a new session, a fresh Live tab that can start again.
    page.reload(wait_until="domcontentloaded")
    open_tab(page, "Live")
    expect()(start).to_be_enabled(timeout=60_000)
    open_page(page, "Recommendations")
    open_page(page, "Credit Risk")
    open_tab(page, "Live")
    start.click()
    expect()(stop).to_be_enabled(timeout=60_000)
    stop.click()
    expect()(start).to_be_enabled(timeout=10_000)


@pytest.mark.slow  # default suite: AppTests cover the default model choice
def test_a_page_opens_on_a_model_for_the_selected_data(other_schema_gbm_dir, served, browser_page) -> None:
    """The newest checkpoint was trained on a file with other columns: it is listed, but the
    page opens on a model for German Credit and Predict works."""
    install(other_schema_gbm_dir, served, "credit_risk", "gbm", version="99991231-000000-other")
    page = browser_page
    open_page(page, "Credit Risk")
    box = model_box(page)
    box.wait_for(timeout=60_000)
    expect()(box).not_to_have_value(re.compile("99991231-000000-other"), timeout=10_000)
    expect_listed(page, "99991231-000000-other")
    open_tab(page, "Predict")
    assert 0.0 <= metric_number(page, "Probability of default") <= 100.0
    assert "Missing column" not in page.inner_text("body")


@pytest.mark.slow  # default suite: AppTests keep a threshold per model; Predict-to-Live stays default
def test_each_model_keeps_its_own_threshold(trained_gbm_dir, served, browser_page) -> None:
    """Two German Credit models with different stored thresholds: switching models moves the
    slider to the other model's threshold, and Evaluate uses it."""
    stored = _two_credit_models(trained_gbm_dir, served, "20990101-000000-first", "20990101-000001-second", 0.37)
    page = browser_page
    slider = _threshold_slider(page)
    choose_model(page, "20990101-000000-first")
    open_tab(page, "Predict")
    expect()(slider).to_have_value(str(round(stored, 2)), timeout=60_000)
    choose_model(page, "20990101-000001-second")
    expect()(slider).to_have_value("0.37", timeout=60_000)
    open_tab(page, "Evaluate")
    page.get_by_text(re.compile(r"Threshold in use 0\.37")).first.wait_for(timeout=120_000)
    choose_model(page, "20990101-000000-first")
    open_tab(page, "Predict")
    expect()(slider).to_have_value(str(round(stored, 2)), timeout=60_000)
    assert metric(page, "decision")


@pytest.mark.slow  # default suite: AppTests cover the default model choice
def test_the_text_page_opens_on_its_most_accurate_checkpoint(text_tfidf_dir, served, browser_page) -> None:
    """A newer sentiment checkpoint with lower validation accuracy is listed, but the page
    opens on the more accurate one, and comes back to it after a refresh."""
    best = install(text_tfidf_dir, served, "text_classification", "tfidf_lr", version="20000101-000000-best")
    copy_newer_and_worse(best, best.parent / "99991231-000000-worse")
    page = browser_page
    open_page(page, "Text Classification")
    box = model_box(page)
    box.wait_for(timeout=60_000)
    expect()(box).to_have_value(re.compile("20000101-000000-best"), timeout=60_000)
    expect_listed(page, "99991231-000000-worse")
    page.reload(wait_until="domcontentloaded")
    open_page(page, "Text Classification")
    expect()(model_box(page)).to_have_value(re.compile("20000101-000000-best"), timeout=60_000)


def test_a_threshold_set_on_predict_reaches_live_and_evaluate(trained_gbm_dir, served, browser_page) -> None:
    """The threshold an analyst sets on Predict is the one Live and Evaluate decide at, for that
    model only: another model keeps its own stored threshold, and the first keeps the one set."""
    stored = _two_credit_models(trained_gbm_dir, served, "20980101-000000-tuned", "20980101-000001-other", 0.61)
    assert abs(stored - 0.42) > 0.02
    page = browser_page
    slider = _threshold_slider(page)
    choose_model(page, "20980101-000000-tuned")
    open_tab(page, "Predict")
    expect()(slider).to_have_value(str(round(stored, 2)), timeout=60_000)
    slider.focus()
    page.keyboard.press("Home")  # 0.00, then 42 steps of 0.01, as a keyboard user moves it
    for _ in range(42):
        page.keyboard.press("ArrowRight")
    # and leaves for Live at once: the slider commits its value a moment after the last key,
    # when its tab is no longer drawn; the value must still reach every tab
    live_threshold = page.get_by_text(re.compile(r"Decision threshold 0\.42: this model's"))
    open_tab(page, "Live")
    live_threshold.first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => /events scored/i.test(m.innerText) && /[1-9]/.test(m.innerText.split('\\n').pop()))""",
                           timeout=60_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect()(page.get_by_role("button", name="Start", exact=True)).to_be_enabled(timeout=10_000)
    expect()(live_threshold.first).to_be_visible(timeout=30_000)  # still 0.42 after the stream's reruns
    open_tab(page, "Evaluate")
    page.get_by_text(re.compile(r"Threshold in use 0\.42")).first.wait_for(timeout=120_000)

    choose_model(page, "20980101-000001-other")  # another model: its own stored threshold, untouched
    open_tab(page, "Predict")
    expect()(slider).to_have_value("0.61", timeout=60_000)
    open_tab(page, "Live")
    page.get_by_text(re.compile(r"Decision threshold 0\.61: this model's")).first.wait_for(timeout=60_000)
    open_tab(page, "Evaluate")
    page.get_by_text(re.compile(r"Threshold in use 0\.61")).first.wait_for(timeout=120_000)

    choose_model(page, "20980101-000000-tuned")  # and back: the value set for it is kept
    open_tab(page, "Predict")
    expect()(slider).to_have_value("0.42", timeout=60_000)
    open_tab(page, "Live")
    live_threshold.first.wait_for(timeout=60_000)


def _two_credit_models(trained_gbm_dir: Path, served, first: str, second: str, threshold: float) -> float:
    """Two German Credit checkpoints in the served dashboard, ``second`` newer and storing
    ``threshold``; returns the threshold ``first`` stores (far from ``threshold``)."""
    install(trained_gbm_dir, served, "credit_risk", "gbm", version=first)
    other = install(trained_gbm_dir, served, "credit_risk", "gbm", version=second)
    meta = json.loads((other / "metadata.json").read_text())
    meta["threshold"], meta["created"] = threshold, f"{second[:4]}-01-01T00:00:01+00:00"
    (other / "metadata.json").write_text(json.dumps(meta))
    stored = float(json.loads((trained_gbm_dir / "metadata.json").read_text())["threshold"])
    assert abs(stored - threshold) > 0.02
    return stored


def _threshold_slider(page):
    """Credit Risk's page open, and its Predict tab's threshold slider."""
    open_page(page, "Credit Risk")
    return page.locator('[data-testid="stSlider"]').filter(has_text="Decision threshold").get_by_role("slider")
