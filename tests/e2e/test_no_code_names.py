"""No visible text on any page or tab names things the way the code does: every heading, caption,
message, metric, table header, chart title, axis, legend and tick is checked for an identifier
with an underscore (``duration_in_month``, ``p_bad``, ``approval_rate``), with an uploaded file.
On the offline defaults, every page and tab is checked by the first-time walk through each page
(tests/e2e/test_pages.py) and the Models page by tests/e2e/test_first_visit_words.py: one walk
through the pages, not two."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ui import code_names, expect, open_page, open_tab, settled, shown_code_names

pytestmark = pytest.mark.e2e
TABS = ["Explore", "Predict", "Live", "Train", "Evaluate"]


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


def _scan(page: Any, pages: list[str], models_page: bool = True) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    headers = 0
    for title in pages:
        open_page(page, title)
        for tab in TABS:
            open_tab(page, tab)
            settled(page)
            if tab == "Live":
                _watch_live(page)
            names, seen = shown_code_names(page)
            headers += seen
            if tab == "Live":
                _stop_live(page)
            if names:
                found[f"{title} / {tab}"] = names
    if models_page:
        page.get_by_role("link", name="Models").first.click()
        settled(page)
        names, _ = shown_code_names(page)
        if names:
            found["Models"] = names
    assert headers > 0, "no table header was read: the check would miss every table"
    return found


@pytest.mark.slow  # default suite: the credit walk in test_pages.py reads every tab for code names
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
