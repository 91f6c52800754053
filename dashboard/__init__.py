"""DomainLens Streamlit dashboard: the only package that imports streamlit.

Importing this package itself is cheap and streamlit-free; the pages do the rest.
"""
