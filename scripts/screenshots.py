"""Screenshots of every page's five tabs at 1440x900, for the README: `make screenshots`.

Starts `domainlens serve` on a free port with the built-in offline defaults, drives headless
chromium through each page as a user would (the main Predict flow, a few seconds of Live,
the Train tab, Evaluate) and writes docs/screenshots/<page>-<tab>.png. Default models that
must be fitted first are fitted once (and kept) before their pages are shot.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from dashboard.cli import serve_in_background

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PAGES = ["Credit Risk", "Medical Imaging", "Recommendations", "Text Classification", "Translation"]
TABS = ["Explore", "Predict", "Live", "Train", "Evaluate"]
WAIT_MS = 600_000  # the first run fits the imaging CNN on the real data (minutes on 2 cores)


def _settle(page: Page) -> None:
    """Until nothing on the page is running or being prepared, then a moment for charts to draw."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("being fitted on the default data")).to_have_count(0, timeout=WAIT_MS)
    page.wait_for_timeout(1500)


def _tab(page: Page, title: str, tab: str) -> None:
    started = time.perf_counter()
    page.get_by_role("tab", name=tab, exact=True).first.click()
    _settle(page)
    if tab == "Predict" and title == "Translation":
        page.get_by_role("button", name="Translate", exact=True).click()
        expect(page.locator(".st-key-translation-translate-output")).not_to_be_empty(timeout=WAIT_MS)
    if tab == "Live":
        page.get_by_role("button", name="Start", exact=True).click()
        page.wait_for_timeout(6000)
    if tab == "Evaluate":
        go = page.get_by_role("button", name="Evaluate on the test split")
        if go.count():
            go.first.click()
        page.locator('[data-testid="stMetric"]:visible').first.wait_for(timeout=WAIT_MS)
        _settle(page)
    if tab == "Predict":  # show the result, not only the form above it
        result = page.locator('[data-testid="stMetric"]:visible')
        if result.count():
            result.first.scroll_into_view_if_needed()
            page.mouse.wheel(0, 250)
            page.wait_for_timeout(500)
    stem = f"{title.lower().replace(' ', '-')}-{tab.lower()}"
    page.screenshot(path=str(OUT / f"{stem}.png"))
    print(f"  {stem}.png ({time.perf_counter() - started:.0f} s)", flush=True)
    if tab == "Live":
        page.get_by_role("button", name="Stop", exact=True).click()
        page.wait_for_timeout(1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="*", default=PAGES, help="page titles to shoot (default: all five)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    OUT.mkdir(parents=True, exist_ok=True)
    proc, url = serve_in_background()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("heading", name="DomainLens").wait_for(timeout=60_000)
            page.screenshot(path=str(OUT / "home.png"))
            for title in args.pages:
                print(title, flush=True)
                page.get_by_role("link", name=title).first.click()
                page.get_by_role("tab", name="Explore").first.wait_for(timeout=60_000)
                for tab in TABS:
                    _tab(page, title, tab)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
