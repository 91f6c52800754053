"""A model report opened from disk in chromium with the network cut: every chart the Evaluate
tab draws is drawn, no request leaves the page, no console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from dashboard.cli import main
from domains import registry
from domains.report import report_models
from tests.e2e.conftest import VIEWPORT, headless_chromium

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
