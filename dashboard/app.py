"""DomainLens dashboard entry point: navigation built from the domain registry.

Streamlit runs this file as ``__main__`` on every rerun; importing it (a test, a tool)
does nothing. The default models' background warm-up starts from ``main``, once per server.
"""

import streamlit as st

from dashboard import resources
from dashboard.navigation import domain_page
from dashboard.state import visitor_id
from domains import registry

# Our own fixed style, no user text: a sidebar wide enough for the model menu's full names
# ("Gradient-boosted trees (LightGBM)", "Offline engine: English <-> Portuguese (bundled)").
SIDEBAR_STYLE = "<style>section[data-testid='stSidebar'] { min-width: 22rem; }</style>"


def main() -> None:
    st.set_page_config(page_title="DomainLens", page_icon=":material/insights:", layout="wide")
    st.html(SIDEBAR_STYLE)
    home = st.Page("screens/home.py", title="Home", icon=":material/home:", default=True)
    models = st.Page("screens/models.py", title="Models", icon=":material/inventory_2:")
    domain_pages = [domain_page(key) for key in registry.domain_keys()]
    resources.warm_up()  # cached: the first run on this server starts it, later runs find it started
    visitor_id()  # in the address from the first page on, so a refresh keeps it
    st.navigation({"DomainLens": [home, models], "Domains": domain_pages}).run()


if __name__ == "__main__":
    main()
