"""Several analysts on one server, in a real browser: a training survives a refresh of the
tab that started it (progress and Cancel still there), a scored batch file survives a
refresh of its tab, and two visitors uploading different files each see only their own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.credit_data import custom_credit_csv
from tests.e2e.conftest import VIEWPORT
from tests.e2e.ui import SIDEBAR, expect, open_page, open_tab

pytestmark = pytest.mark.e2e


@pytest.mark.slow  # default suite: tests/dashboard/test_pages.py finds a refreshed page's training
def test_a_refreshed_tab_keeps_its_training(browser_page: Any) -> None:
    page = browser_page
    open_page(page, "Credit Risk")
    open_tab(page, "Train")
    main = page.locator('[data-testid="stMain"]')
    for name, option in (("Model", "Embeddings + MLP (PyTorch)"), ("Validation", "10-fold CV")):
        box = main.get_by_role("combobox", name=name)
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
        expect()(box).to_have_value(option)
    page.get_by_role("button", name="Start training").click()
    expect()(page.get_by_role("button", name="Cancel training")).to_be_visible(timeout=30_000)
    assert "visitor=" in page.url  # who started it travels with the address

    page.reload()  # a new browser session at the same address
    open_tab(page, "Train")
    cancel = page.get_by_role("button", name="Cancel training")
    expect()(cancel).to_be_visible(timeout=60_000)  # reattached: the job is still this tab's
    expect()(page.get_by_role("button", name="Start training")).to_be_disabled()
    expect()(page.locator('[data-testid="stProgress"]').first).to_be_visible()
    cancel.click()
    page.get_by_text("Training was cancelled").wait_for(timeout=120_000)
    expect()(page.get_by_role("button", name="Start training")).to_be_enabled(timeout=10_000)


def _upload(page: Any, served: Any, csv: Path) -> None:
    page.goto(served.url, wait_until="domcontentloaded")
    open_page(page, "Credit Risk")
    sidebar = page.locator(SIDEBAR)
    sidebar.get_by_text("Upload a file").click()
    sidebar.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))


def test_two_visitors_never_see_each_others_uploads(served: Any, browser: Any, tmp_path: Path) -> None:
    first_csv = custom_credit_csv(tmp_path / "alpha-loans.csv")
    second_csv = tmp_path / "beta-loans.csv"
    lines = first_csv.read_text().splitlines()
    second_csv.write_text("\n".join(lines[:301]) + "\n")  # the header and 300 rows
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(2)]  # two people, two browsers
    try:
        alice, bob = (c.new_page() for c in contexts)
        _upload(alice, served, first_csv)
        _upload(bob, served, second_csv)
        alice.get_by_text(re.compile(r"alpha-loans\.csv: 600 rows")).wait_for(timeout=60_000)
        bob.get_by_text(re.compile(r"beta-loans\.csv: 300 rows")).wait_for(timeout=60_000)
        alice.reload()  # and after a refresh, still nothing of the other's
        for page, other in ((alice, "beta-loans"), (bob, "alpha-loans")):
            page.locator('[data-testid="stMain"]').first.wait_for(timeout=30_000)
            expect()(page.get_by_text(other)).to_have_count(0)
    finally:
        for context in contexts:
            context.close()


def _batch_box(page: Any) -> Any:
    open_tab(page, "Predict")
    open_tab(page, "Batch file")
    return page.locator('[data-testid="stMain"] [data-testid="stFileUploader"]').last


@pytest.mark.slow  # default suite: a browser walk; two visitors' isolation stays default
def test_a_scored_batch_file_survives_a_refresh(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    reviews = tmp_path / "my-reviews.csv"
    reviews.write_text("review\n" + "\n".join(f'"review {i}: a warm, funny and moving film."' for i in range(300)))
    open_page(page, "Text Classification")
    _batch_box(page).locator('input[type="file"]').set_input_files(str(reviews))
    page.get_by_text("Scored 300 rows").wait_for(timeout=120_000)
    expect()(page.get_by_role("switch", name="Run on Ray")).to_have_count(0)  # no cluster configured: no Ray
    expect()(page.get_by_role("button", name="Download CSV")).to_be_visible()

    page.reload()  # a new browser session at the same address: the upload box is empty again
    open_tab(page, "Predict")
    open_tab(page, "Batch file")
    page.get_by_text("Your last batch: my-reviews.csv").wait_for(timeout=60_000)
    expect()(page.get_by_text("Scored 300 rows")).to_be_visible()
    expect()(page.get_by_role("button", name="Download CSV")).to_be_visible()
