"""What a user does in the browser, as small steps the browser tests share."""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

SIDEBAR = '[data-testid="stSidebar"]'


def expect() -> Any:
    return pytest.importorskip("playwright.sync_api").expect


def install(checkpoint: Path, served: Any, domain: str, model: str, version: str = "v1") -> Path:
    """Put a trained checkpoint where the served dashboard looks for checkpoints."""
    target = served.artifacts / domain / model / version
    if not target.exists():
        shutil.copytree(checkpoint, target)
    return target


def open_page(page: Any, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)


def model_box(page: Any) -> Any:
    return page.locator(SIDEBAR).get_by_role("combobox", name="Model")


def expect_listed(page: Any, label: str) -> None:
    """The sidebar's model menu lists ``label`` (opened to look, closed again)."""
    model_box(page).click()
    expect()(page.get_by_role("option", name=re.compile(re.escape(label)))).to_be_visible()
    page.keyboard.press("Escape")


def choose_model(page: Any, label: str) -> None:
    """Pick a model in the sidebar, as a user does (the first listed is the default)."""
    box = model_box(page)
    box.wait_for(timeout=120_000)
    box.click()
    page.get_by_role("option", name=re.compile(re.escape(label))).first.click()
    expect()(box).to_have_value(re.compile(re.escape(label)), timeout=60_000)


def metric(page: Any, name: str, timeout_ms: int = 120_000) -> str:
    locator = page.locator('[data-testid="stMetric"]').filter(has_text=name).first
    locator.wait_for(timeout=timeout_ms)
    return locator.inner_text()


def metric_number(page: Any, name: str, timeout_ms: int = 120_000) -> float:
    text = metric(page, name, timeout_ms)
    found = re.findall(r"-?[0-9][0-9,]*\.?[0-9]*", text.split("\n", 1)[-1])
    assert found, f"no number in metric {name!r}: {text!r}"
    return float(found[0].replace(",", ""))


def open_tab(page: Any, name: str) -> None:
    """Click a tab and wait until it is the selected one. A page tab's content then arrives
    with the rerun the click starts (only the open tab is drawn): callers wait for what they
    look for, as a user waits for it to appear."""
    tab = page.get_by_role("tab", name=name, exact=True).first
    tab.click()
    expect()(tab).to_have_attribute("aria-selected", "true", timeout=60_000)


def open_inner_tab(page: Any, name: str) -> None:
    """Click a tab inside a page tab (e.g. Predict's "Documents and tables") once the page tab's
    rerun has settled, and wait until it is selected: a click during that rerun can land on the
    tab bar it replaces and be lost."""
    tab = page.get_by_role("tab", name=name, exact=True).first
    tab.wait_for(timeout=120_000)
    settled(page)
    tab.click()
    expect()(tab).to_have_attribute("aria-selected", "true", timeout=30_000)


# What a reader sees, checked for names the way the code spells them (tests/e2e/test_no_code_names.py).
CODE_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+\b")
# Text the page shows as the user gave it or as a file is named, not a label the page chose.
ALLOWED = re.compile(r"^(DOMAINLENS_[A-Z_]+|serve_multiplexed_model_id)$")

# Everything a reader sees: the page's text (headings, captions, alerts, metrics, widgets'
# labels and values) plus the text drawn in charts' SVG (titles, axes, legends, ticks) and
# tables' headers, which live in a canvas and are read from the grid's accessible copy.
# Icons are ligatures ('inventory_2') drawn as pictures, not words: their text is left out.
VISIBLE_TEXT = """() => {
  const seen = el => el.checkVisibility();
  const icons = new Set([...document.querySelectorAll('[data-testid="stIconMaterial"]')]
    .map(i => i.textContent.trim()));
  const parts = [];
  for (const where of ['[data-testid="stMain"]', '[data-testid="stSidebar"]']) {
    const el = document.querySelector(where);
    if (el) parts.push(el.innerText);
  }
  for (const t of document.querySelectorAll('.js-plotly-plot svg text'))
    if (seen(t.closest('.js-plotly-plot'))) parts.push(t.textContent);
  for (const h of document.querySelectorAll('[data-testid="stDataFrame"] [role="columnheader"]'))
    if (seen(h.closest('[data-testid="stDataFrame"]'))) parts.push(h.textContent);
  return parts.join('\\n').split(/\\s+/).filter(w => !icons.has(w)).join(' ');
}"""


def settled(page: Any) -> None:
    """Wait for the rerun to finish: no 'Running' in the status widget for a moment."""
    page.wait_for_timeout(500)
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidget"]')""", timeout=300_000)
    page.wait_for_timeout(1500)


# Code names without an underscore that charts used to show: model keys, metric keys, pair codes.
CODE_WORDS = re.compile(r"(?<![\w@])(dlae|ease|itemknn|ndcg@10|recall@k|precision@k|[a-z]{2}->[a-z]{2})(?![\w@])")


def code_names(text: str) -> set[str]:
    return {m for m in CODE_NAME.findall(text) if not ALLOWED.match(m)} | set(CODE_WORDS.findall(text))


def shown_code_names(page: Any) -> tuple[set[str], int]:
    """The code names in everything the page shows now, and how many table headers were read
    (a check that read none would miss every table)."""
    # A grid draws its accessible header row a moment after the table appears (later still on a
    # busy machine): wait for every visible table's headers, then read what is there.
    # (a table without headers after that is what the callers' count reports)
    with contextlib.suppress(Exception):
        page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
            .filter(t => t.checkVisibility()).every(t => t.querySelector('[role="columnheader"]'))""",
                               timeout=30_000)
    headers = int(page.evaluate("""() => document.querySelectorAll(
        '[data-testid="stDataFrame"] [role="columnheader"]').length"""))
    return code_names(page.evaluate(VISIBLE_TEXT)), headers
