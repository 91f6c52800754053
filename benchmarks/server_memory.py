"""Resident memory of one DomainLens server with all five domains' default models loaded,
as a ratio against the same server before any page was opened (measured in this run).

Starts `domainlens serve` on a fresh artifacts folder, waits for its background warm-up
to fit the defaults, opens each domain page in headless chromium until its Predict tab
shows a result, then reads the server's VmRSS (now) and VmHWM (peak) from /proc.

Run: .venv/bin/python benchmarks/server_memory.py   (needs /usr/bin/chromium; ~3-5 min on 2 cores)
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from dashboard.cli import serve_in_background

PAGES = {  # page title -> what its Predict tab shows once the default model scored something
    "Credit Risk": '[data-testid="stMetric"]:has-text("Probability of default")',
    "Medical Imaging": '[data-testid="stMetric"]:has-text("Prediction")',
    "Recommendations": 'text=/Top 10 for user/',
    "Text Classification": '[data-testid="stMetric"]:has-text("Prediction")',
    "Translation": '.st-key-translation-translate-output',
}


def memory_mb(pid: int) -> dict[str, float]:
    fields = dict(re.findall(r"^(Vm\w+):\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M))
    return {"rss": int(fields["VmRSS"]) / 1024, "peak": int(fields["VmHWM"]) / 1024}


def main() -> None:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "DOMAINLENS_HOME": tempfile.mkdtemp(prefix="dl-memory-")}
    proc, url = serve_in_background(env)
    try:
        bare = memory_mb(proc.pid)
        print(f"bare server: {bare['rss']:.0f} MB resident")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.get_by_role("heading", name="DomainLens").wait_for(timeout=60_000)
            for title, ready in PAGES.items():
                started = time.perf_counter()
                page.get_by_role("link", name=title).first.click()
                page.get_by_role("tab", name="Predict").first.click()
                if title == "Translation":
                    page.get_by_role("button", name="Translate", exact=True).click(timeout=600_000)
                page.locator(ready).first.wait_for(timeout=900_000)
                now = memory_mb(proc.pid)
                print(f"{title}: result after {time.perf_counter() - started:.0f} s; server {now['rss']:.0f} MB")
            browser.close()
        loaded = memory_mb(proc.pid)
        print(f"five default models loaded: {loaded['rss']:.0f} MB resident "
              f"({loaded['rss'] / bare['rss']:.1f}x the bare server), peak {loaded['peak']:.0f} MB "
              f"(goal: under 2,048 MB)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
