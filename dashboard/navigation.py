"""The navigation entry of each domain page, for the app's menu and Home's links."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard.domain_page import render_domain_page
from domains import registry

SCREENS = Path(__file__).parent / "screens"


def domain_page(key: str) -> StreamlitPage:
    """The domain's screen file where it has one (bookmarkable, and what tests switch to),
    else the same page drawn from the registry entry alone: a new domain needs no file here."""
    domain = registry.get(key)
    if (SCREENS / f"{key}.py").is_file():
        return st.Page(f"screens/{key}.py", title=domain.title, icon=domain.icon, url_path=key)

    def page() -> None:
        render_domain_page(key)

    page.__name__ = f"domain_{key}"
    return st.Page(page, title=domain.title, icon=domain.icon, url_path=key)
