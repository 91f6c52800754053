"""The served dashboard and a browser for the browser tests. On a failed test, keep what the
page showed: a screenshot under .pytest_cache and the page's text in the report (CI logs show
it), so a failure seen once can be diagnosed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chromium_path

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1440, "height": 900}


@dataclass(frozen=True)
class Served:
    url: str
    artifacts: Path
    pid: int

    def __getitem__(self, index: int) -> Any:  # older tests unpack (url, artifacts)
        return (self.url, self.artifacts)[index]


def start_dashboard(artifacts: Path, data_dir: Path, extra_env: dict[str, str] | None = None,
                    ) -> tuple[subprocess.Popen[bytes], str]:
    """``domainlens serve`` with its own artifacts folder and the given imaging data (set here
    because the dashboard starts before the per-test fixtures that set it for the test process)."""
    from dashboard.cli import serve_in_background
    from domains.base import DomainLensError

    env = {**os.environ, "DOMAINLENS_HOME": str(artifacts), "DOMAINLENS_DATA": str(data_dir), **(extra_env or {})}
    try:
        return serve_in_background(env)
    except DomainLensError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, synthetic_data_dir: Path, prepared_defaults: Path,
           ) -> Iterator[Served]:
    """One dashboard per test module (starting one costs ~8 s). Each test opens its own
    browser session and picks the model it needs in the sidebar."""
    import shutil

    artifacts = tmp_path_factory.mktemp("served") / "artifacts"
    shutil.copytree(prepared_defaults, artifacts / prepared_defaults.name)
    proc, url = start_dashboard(artifacts, synthetic_data_dir)
    yield Served(url, artifacts, proc.pid)
    proc.terminate()
    proc.wait(10)


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (skips the test where it is not installed)."""
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


@pytest.fixture
def browser(served: Served) -> Iterator[Any]:
    with headless_chromium() as launched:
        yield launched


@pytest.fixture
def browser_page(served: Served, browser: Any) -> Any:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(served.url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="DomainLens").wait_for(timeout=60_000)
    return page


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
