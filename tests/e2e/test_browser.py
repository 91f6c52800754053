"""Real browser: start `domainlens serve`, open Credit Risk, score an applicant."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import chromium_path

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "DOMAINLENS_HOME": str(tmp_path / "artifacts")}
    proc = subprocess.Popen([sys.executable, "-m", "domains.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("dashboard did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(10)


def test_score_an_applicant_in_the_browser(server) -> None:
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(server, wait_until="domcontentloaded")
        page.get_by_role("heading", name="DomainLens").wait_for(timeout=60_000)
        page.get_by_role("link", name="Credit Risk").first.click()
        page.get_by_role("tab", name="Predict").click()
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="p_bad").first
        metric.wait_for(timeout=120_000)
        value = float(re.search(r"p_bad\s*([0-9.]+)", metric.inner_text()).group(1))
        assert 0.0 <= value <= 1.0
        decision = page.locator('[data-testid="stMetric"]').filter(has_text="decision").first.inner_text()
        assert "approve" in decision or "reject" in decision
        page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-credit.png"), full_page=False)
        browser.close()
