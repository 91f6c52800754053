"""DomainLens domains: pure Python (no streamlit), built on ``models``."""
