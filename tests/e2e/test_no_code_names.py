"""No visible text on any page or tab names things the way the code does: every heading, caption,
message, metric, table header, chart title, axis, legend and tick is checked for an identifier
with an underscore (``duration_in_month``, ``p_bad``, ``approval_rate``), on the offline defaults
and with an uploaded file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ui import expect, open_page, open_tab

pytestmark = pytest.mark.e2e
PAGES = ["Credit Risk", "Medical Imaging", "Recommendations", "Text Classification", "Translation"]
TABS = ["Explore", "Predict", "Live", "Train", "Evaluate"]
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


def _settled(page: Any) -> None:
    """Wait for the rerun to finish: no 'Running' in the status widget for a moment."""
    page.wait_for_timeout(500)
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidget"]')""", timeout=300_000)
    page.wait_for_timeout(1500)


# Code names without an underscore that charts used to show: model keys, metric keys, pair codes.
CODE_WORDS = re.compile(r"(?<![\w@])(dlae|ease|itemknn|ndcg@10|recall@k|precision@k|[a-z]{2}->[a-z]{2})(?![\w@])")


def code_names(text: str) -> set[str]:
    return {m for m in CODE_NAME.findall(text) if not ALLOWED.match(m)} | set(CODE_WORDS.findall(text))


def _watch_live(page: Any) -> None:
    """Start the stream and let events arrive, so its charts and table are on the page."""
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => /Events scored/.test(m.innerText) && /[1-9]/.test(m.innerText.split('\\n').pop()))""",
                           timeout=180_000)
    page.wait_for_timeout(4000)


def _stop_live(page: Any) -> None:
    page.get_by_role("button", name="Stop", exact=True).click()
    expect()(page.get_by_role("button", name="Start", exact=True)).to_be_enabled(timeout=60_000)


def _headers(page: Any) -> int:
    return int(page.evaluate("""() => document.querySelectorAll(
        '[data-testid="stDataFrame"] [role="columnheader"]').length"""))


def _scan(page: Any, pages: list[str] = PAGES, models_page: bool = True) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    headers = 0
    for title in pages:
        open_page(page, title)
        for tab in TABS:
            open_tab(page, tab)
            _settled(page)
            if tab == "Live":
                _watch_live(page)
            headers += _headers(page)
            names = code_names(page.evaluate(VISIBLE_TEXT))
            if tab == "Live":
                _stop_live(page)
            if names:
                found[f"{title} / {tab}"] = names
    if models_page:
        page.get_by_role("link", name="Models").first.click()
        _settled(page)
        names = code_names(page.evaluate(VISIBLE_TEXT))
        if names:
            found["Models"] = names
    assert headers > 0, "no table header was read: the check would miss every table"
    return found


def test_no_code_identifier_is_shown_on_any_page_or_tab(browser_page: Any) -> None:
    found = _scan(browser_page)
    assert not found, "\n".join(f"{where}: {sorted(names)}" for where, names in found.items())


def test_no_code_identifier_is_shown_with_an_uploaded_file(browser_page: Any, german_credit_csv: Path,
                                                            tmp_path: Path) -> None:
    page = browser_page
    upload = tmp_path / "applicants.csv"
    shutil.copy(german_credit_csv, upload)
    open_page(page, "Credit Risk")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload a file").click()
    sidebar.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
    expect()(page.get_by_text(re.compile(r"applicants\.csv: 1,000 rows"))).to_be_visible(timeout=120_000)
    found = _scan(page, ["Credit Risk"], models_page=False)
    open_tab(page, "Explore")  # the scan looked at the uploaded file, not the bundled data
    expect()(page.get_by_text(re.compile(r"applicants\.csv: 1,000 rows"))).to_be_visible(timeout=60_000)
    assert not found, "\n".join(f"{where}: {sorted(names)}" for where, names in found.items())


def test_code_name_pattern_catches_what_it_should() -> None:
    assert code_names("Population stability: duration_in_month 0.3, p_bad") == {"duration_in_month", "p_bad"}
    assert code_names("Duration (months) · P(bad) · nDCG@10 · English → Portuguese") == set()
    assert code_names("model dlae: ndcg@10 0.41, recall@k; en->pt") == {"dlae", "ndcg@10", "recall@k", "en->pt"}
