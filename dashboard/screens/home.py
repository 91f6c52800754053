"""Home: one card per domain. Renders without loading any model or dataset."""

import streamlit as st

from dashboard import resources
from dashboard.navigation import domain_page
from domains import registry
from domains.server import running_streams
from models.checkpoints import list_bundles

st.title("DomainLens")
st.write("Domain AI models you can explore, score live, retrain and evaluate, in the browser or from the CLI.")
st.caption(f"Compute device: {resources.device_name()} · Live streams running on this server: {running_streams()} "
           "(a stream ends a few seconds after its browser tab closes)")
for key in registry.domain_keys():
    domain = resources.domain(key)
    with st.container(border=True):
        st.subheader(domain.title)
        st.write(domain.description)
        models = domain.models()
        st.markdown(f"**Models:** {', '.join(m.title for m in models)}")
        st.markdown(f"**Trained checkpoints:** {len(list_bundles(key))} · **prepared default models:** "
                    f"{len(registry.prepared_bundles(key))} (listed on the Models page)")
        st.page_link(domain_page(key), label=f"Open {domain.title}", icon=":material/arrow_forward:")
