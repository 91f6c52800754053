"""DomainLens dashboard entry point: navigation built from the domain registry."""

import streamlit as st

from dashboard import resources
from dashboard.navigation import domain_page
from dashboard.state import visitor_id
from domains import registry

st.set_page_config(page_title="DomainLens", page_icon=":material/insights:", layout="wide")

home = st.Page("screens/home.py", title="Home", icon=":material/home:", default=True)
models = st.Page("screens/models.py", title="Models", icon=":material/inventory_2:")

domain_pages = [domain_page(key) for key in registry.domain_keys()]
resources.warm_up()
visitor_id()  # in the address from the first page on, so a refresh keeps it
st.navigation({"DomainLens": [home, models], "Domains": domain_pages}).run()
