"""The dashboard as a client of the model API (``DOMAINLENS_MODEL_SERVER``), in chromium: a
credit applicant and a review scored through a real ``domainlens serve-models`` show what the
in-process dashboard shows; with the server stopped, the page says so and still scores."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import VIEWPORT, Served, start_dashboard
from tests.e2e.ui import expect, metric, metric_number, open_page, open_tab
from tests.model_server import start_model_server, stop_model_server

pytestmark = pytest.mark.e2e
REVIEW = "A tender, funny and beautifully acted film that stays with you."


def _scores(page: Any) -> tuple[float, str]:
    """The default applicant's probability of default, and the page's verdict on ``REVIEW``."""
    open_page(page, "Credit Risk")
    open_tab(page, "Predict")
    credit = metric_number(page, "Probability of default", 180_000)
    open_page(page, "Text Classification")
    open_tab(page, "Predict")
    box = page.get_by_role("textbox", name="Text to classify")
    box.fill(REVIEW)
    box.press("Control+Enter")
    expect()(page.get_by_text(re.compile(r"Why '")).first).to_be_visible(timeout=120_000)
    return credit, metric(page, "Prediction", 120_000).split("\n")[-1]


@pytest.fixture
def remote_dashboard(served: Served, synthetic_data_dir: Any) -> Iterator[tuple[str, Any, Any]]:
    """A model server for credit and text on the served dashboard's artifacts, and a second
    dashboard pointed at it."""
    proc, client = start_model_server(served.artifacts, synthetic_data_dir, "--domains", "credit_risk",
                                      "text_classification")
    dashboard, url = start_dashboard(served.artifacts, synthetic_data_dir, {"DOMAINLENS_MODEL_SERVER": client.url})
    try:
        yield url, client, proc
    finally:
        dashboard.terminate()
        dashboard.wait(10)
        stop_model_server(proc)


@pytest.mark.slow  # default suite: a model server of its own; tests/test_api.py calls the same API over HTTP
def test_the_dashboard_scores_through_the_model_server(browser: Any, browser_page: Any,
                                                       remote_dashboard: tuple[str, Any, Any]) -> None:
    url, client, proc = remote_dashboard
    in_process = _scores(browser_page)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="DomainLens").wait_for(timeout=60_000)
    rows_before = {k: v["stats"]["rows"] for k, v in client.models().items()}
    assert _scores(page) == in_process
    expect()(page.get_by_text(f"Models run on the model server at {client.url}").first).to_be_visible()
    rows_after = {k: v["stats"]["rows"] for k, v in client.models().items()}
    assert rows_after["credit_risk"] > rows_before["credit_risk"]  # the server scored them, not the page
    assert rows_after["text_classification"] > rows_before["text_classification"]

    stop_model_server(proc)
    time.sleep(6)  # past the 5 s the page trusts its last look at the server
    page.reload(wait_until="domcontentloaded")
    open_page(page, "Credit Risk")
    expect()(page.get_by_text(re.compile(r"The model server at .* cannot score here")).first).to_be_visible(
        timeout=60_000)
    open_tab(page, "Predict")
    assert metric_number(page, "Probability of default", 180_000) == in_process[0]  # in-process meanwhile
    expect()(page.get_by_role("button", name="Try the model server again")).to_be_visible()
