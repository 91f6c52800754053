"""Widget state that survives page switches, and the browser session's lifetime.

Streamlit drops a widget's state when its page is not rendered. Chosen values are
mirrored into plain session keys (``keep``) and a widget created again starts from
its kept value (``initial``). Widgets are never seeded by writing their own key: a
value written there can be lost to Streamlit's widget-state clean-up, and a widget
then starts from its minimum (a 0.00 threshold or cost). To show a widget a new value
(the checkpoint the Train tab just saved), give it a new key instead.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime import get_instance
from streamlit.runtime.scriptrunner import get_script_run_ctx

_PREFIX = "_kept_"


def initial(key: str, default: Any) -> Any:
    """What widget ``key`` starts from: the value kept from an earlier visit, else ``default``."""
    return st.session_state.get(_PREFIX + key, default)


def persisted(key: str) -> dict[str, Any]:
    """Widget keyword arguments that keep the widget's value beyond this page."""
    return {"key": key, "on_change": keep, "args": (key,)}


def kept(key: str) -> dict[str, Any]:
    """Widget keyword arguments for a widget in a tab: only the open tab is drawn, and
    Streamlit keeps the value of a widget that is not drawn (another tab, another page)
    for the whole browser session, so a setting survives a look at another tab."""
    return {"key": key, "persist_state": "session"}


def keep(key: str) -> None:
    """on_change callback: remember the widget's value beyond this page."""
    st.session_state[_PREFIX + key] = st.session_state[key]


def remember(key: str, value: Any) -> None:
    """Make ``value`` what widget ``key`` starts from next time it is created."""
    st.session_state[_PREFIX + key] = value


def short_id(text: str) -> str:
    """A short stable token for widget keys derived from long ids (paths, data ids)."""
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def session_alive() -> Callable[[], bool]:
    """A check, safe from any thread, that this browser session is still connected (a
    closed or refreshed tab ends the session)."""
    ctx = get_script_run_ctx()
    try:
        runtime = get_instance()
    except RuntimeError:  # no server (AppTest, bare mode): no browser to watch
        return lambda: True
    if ctx is None:
        return lambda: True
    session_id = ctx.session_id
    return lambda: runtime.is_active_session(session_id)


VISITOR = "visitor"


def visitor_id() -> str:
    """Who this browser tab is across refreshes: a random id kept in the page's address
    (``?visitor=...``), so a refreshed page finds the jobs it started. It is not a login:
    whoever opens the same address is the same visitor."""
    found = str(st.query_params.get(VISITOR) or st.session_state.get(f"_{VISITOR}") or uuid.uuid4().hex[:16])
    st.session_state[f"_{VISITOR}"] = found
    if st.query_params.get(VISITOR) != found:  # page switches drop query parameters: put it back
        st.query_params[VISITOR] = found
    return found
