"""On a failed browser test, keep what the page showed: a screenshot under .pytest_cache and
the page's text in the report (CI logs show it), so a failure seen once can be diagnosed."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    page = getattr(item, "funcargs", {}).get("browser_page")
    if report.when != "call" or not report.failed or page is None:
        return
    try:
        shot = ROOT / ".pytest_cache" / f"e2e-failed-{item.name}.png"
        shot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        report.sections.append(("page when it failed", f"screenshot: {shot}\n{page.inner_text('body')[:4000]}"))
    except Exception as exc:  # the page may be gone; the failure itself is what matters
        report.sections.append(("page when it failed", f"could not capture it: {exc}"))
