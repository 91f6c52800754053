"""Widget state that survives page switches.

Streamlit drops a widget's state when its page is not rendered; we mirror chosen
values into plain session keys and seed the widgets from them on return.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_PREFIX = "_kept_"


def kept(key: str, default: Any = None) -> str:
    """Seed widget ``key`` from its kept value (call before creating the widget)."""
    if key not in st.session_state and _PREFIX + key in st.session_state:
        st.session_state[key] = st.session_state[_PREFIX + key]
    elif key not in st.session_state and default is not None:
        st.session_state[key] = default
    return key


def keep(key: str) -> None:
    """on_change callback: remember the widget's value beyond this page."""
    st.session_state[_PREFIX + key] = st.session_state[key]


def remember(key: str, value: Any) -> None:
    st.session_state[key] = value
    st.session_state[_PREFIX + key] = value
