"""The flows the capability contract now carries, clicked through in a real browser: a
document translated through the domain's own file path (with a refresh and a second
visit), a recommender's similar items and cold start, and upload pickers a domain
declares as fields."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ui import SIDEBAR, expect, open_inner_tab, open_page, open_tab

pytestmark = pytest.mark.e2e


def _translate_document(page: Any, document: Path) -> str:
    open_page(page, "Translation")
    open_tab(page, "Predict")
    open_inner_tab(page, "Documents and tables")
    page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(
        str(document))
    page.get_by_role("button", name="Translate document").click()
    page.get_by_text(re.compile(rf"Translated {re.escape(document.name)}")).wait_for(timeout=120_000)
    expect()(page.get_by_role("button", name="Download the translation")).to_be_visible()
    return page.locator('[data-testid="stCode"]').first.inner_text()


@pytest.mark.slow  # default suite: tests/domains/translation translate documents
def test_a_document_is_translated_with_its_layout(browser_page: Any, tmp_path: Path) -> None:
    document = tmp_path / "notes.md"
    document.write_text("# Weekly report\n\n- The new dashboard is fast.\n- Please send the contract by Friday.\n",
                        encoding="utf-8")
    page = browser_page
    first = _translate_document(page, document)
    lines = first.splitlines()
    assert lines[0].startswith("# ") and sum(line.startswith("- ") for line in lines) == 2  # markup kept
    assert "Weekly report" not in first and "contrato" in first.lower()  # translated (offline en->pt engine)
    page.reload()  # a refresh, then the same flow again, gives the same translation
    page.get_by_role("link", name="Home").first.click()
    assert _translate_document(page, document) == first


@pytest.mark.slow  # default suite: tests/dashboard/test_recommendations_page.py covers both
def test_similar_items_and_a_cold_start(browser_page: Any) -> None:
    page = browser_page
    open_page(page, "Recommendations")
    open_tab(page, "Predict")
    page.get_by_text(re.compile(r"Top 10 for user")).first.wait_for(timeout=180_000)
    open_inner_tab(page, "Similar movies")
    page.get_by_role("combobox", name="Find movies like").wait_for(timeout=60_000)
    expect()(page.locator('[data-testid="stDataFrame"]:visible').first).to_be_visible(timeout=60_000)
    page.get_by_role("tab", name="Cold start (new visitor)").click()
    picker = page.get_by_role("combobox", name=re.compile(r"Pick a few movies you like"))
    picker.click()
    page.get_by_role("option").first.click()
    page.keyboard.press("Escape")
    tables = page.locator('[data-testid="stDataFrame"]:visible')
    expect()(tables.last).to_be_visible(timeout=60_000)
    expect()(page.get_by_text(re.compile(r"Pick movies to get instant recommendations"))).to_have_count(0)


@pytest.mark.slow  # default suite: AppTests draw every upload picker
def test_upload_pickers_come_from_the_domain(browser_page: Any, tmp_path: Path) -> None:
    table = tmp_path / "feedback.csv"
    rows = ["id,comment,sentiment"] + [f"{i},{'Loved it and great service' if i % 2 else 'Slow and rude staff'},"
                                      f"{'positive' if i % 2 else 'negative'}" for i in range(40)]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = browser_page
    open_page(page, "Text Classification")
    sidebar = page.locator(SIDEBAR)
    sidebar.get_by_text("Upload a file").click()
    sidebar.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(table))
    expect()(sidebar.get_by_role("combobox", name="Text column")).to_have_value("comment", timeout=60_000)
    expect()(sidebar.get_by_role("combobox", name="Label column")).to_have_value("sentiment")  # guessed from its name
    label = sidebar.get_by_role("combobox", name="Label column")
    label.click()
    page.get_by_role("option", name="(none: predict only)").click()
    expect()(label).to_have_value("(none: predict only)", timeout=30_000)
    expect()(page.locator('[data-testid="stException"]')).to_have_count(0)
