"""What a user does in the browser, as small steps the browser tests share."""

from __future__ import annotations

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
