"""DomainLens dashboard entry point: navigation built from the domain registry."""

from pathlib import Path

import streamlit as st

from dashboard import resources
from domains import registry

PAGES = Path(__file__).parent / "screens"

st.set_page_config(page_title="DomainLens", page_icon=":material/insights:", layout="wide")

home = st.Page("screens/home.py", title="Home", icon=":material/home:", default=True)
models = st.Page("screens/models.py", title="Models", icon=":material/inventory_2:")
domain_pages = [
    st.Page(f"screens/{key}.py", title=registry.get(key).title, icon=registry.get(key).icon, url_path=key)
    for key in registry.domain_keys()
    if (PAGES / f"{key}.py").is_file()  # a registered domain without a page is simply not listed
]
resources.warm_up()
st.navigation({"DomainLens": [home, models], "Domains": domain_pages}).run()
