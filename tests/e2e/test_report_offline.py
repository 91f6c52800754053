"""A model report opened from disk in chromium with the network cut: every chart the Evaluate
tab draws is drawn, no request leaves the page, no console error."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from dashboard.cli import main
from domains import registry
from domains.report import report_models
from tests.e2e.conftest import VIEWPORT, headless_chromium
from tests.e2e.ui import expect, install, open_page

pytestmark = pytest.mark.e2e


@pytest.fixture
def offline_page() -> Iterator[Any]:
    """A page with the network cut (no served dashboard: the report is a file on disk)."""
    with headless_chromium() as browser:
        yield browser.new_context(viewport=VIEWPORT, offline=True).new_page()


def _open(page: Any, report: Path) -> tuple[int, list[str], list[str]]:
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_function("document.body.dataset.charts === 'drawn'", timeout=60_000)
    return page.locator(".js-plotly-plot").count(), [u for u in requests if u != report.as_uri()], errors


@pytest.mark.parametrize("key", ["credit_risk", "medical_imaging"])
def test_a_report_opens_offline_with_every_chart(key: str, offline_page: Any, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    checkpoint = request.getfixturevalue({"credit_risk": "trained_gbm_dir", "medical_imaging": "imaging_cnn_dir"}[key])
    out = tmp_path / f"{key}.html"
    assert main(["report", key, "--checkpoint", str(checkpoint), "--output", str(out)]) == 0
    domain = registry.get(key)
    [model] = report_models(domain, [checkpoint], domain.load_data(), "test", device=torch.device("cpu"))
    on_the_tab = len(domain.charts(model.report))  # what the Evaluate tab draws for this evaluation
    drawn, requests, errors = _open(offline_page, out)
    print(f"{key}: {drawn} charts drawn ({on_the_tab} on the Evaluate tab), {out.stat().st_size / 1e6:.2f} MB")
    assert drawn == on_the_tab > 0
    assert requests == [] and errors == []
    assert offline_page.get_by_text("Model card").first.is_visible()
    if key == "medical_imaging":
        assert offline_page.get_by_text("Not for diagnostic use").first.is_visible()


def test_the_models_page_downloads_a_comparison_that_opens_offline(trained_gbm_dir: Path, served: Any,
                                                                   browser: Any, browser_page: Any,
                                                                   tmp_path: Path) -> None:
    """What an analyst does to hand a comparison on: on the Models page two credit models are picked,
    "Download comparison report" saves one HTML file, and that file opens with the network cut,
    both models' sections and the side-by-side drawn, nothing fetched, no console error."""
    added = install(trained_gbm_dir, served, "credit_risk", "gbm", version="20000101-000000-compare")
    try:
        page = browser_page
        open_page(page, "Models")
        picker = page.get_by_role("combobox", name="Pick two or three to compare")
        expect()(picker).to_be_visible(timeout=60_000)
        button = page.get_by_role("button", name=re.compile("Download comparison report"))
        expect()(button).to_be_visible(timeout=60_000)
        with page.expect_download(timeout=120_000) as download:
            button.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "credit_risk-comparison-report.html"
        offline = browser.new_context(viewport=VIEWPORT, offline=True).new_page()
        drawn, requests, errors = _open(offline, saved)
        assert requests == [] and errors == []
        sections = offline.locator("section h2").all_inner_texts()
        assert len(sections) == 3 and "Side by side" in sections, sections  # two models, then the comparison
        assert sum("20000101-000000" in s for s in sections) == 1  # the installed one, named by its version
        assert offline.get_by_text("Model card").count() == 2
        assert drawn > 2
    finally:
        shutil.rmtree(added)
