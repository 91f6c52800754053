"""Show errors as one clear message on the page, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from domains.base import DomainLensError

log = logging.getLogger("domainlens.dashboard")


@contextmanager
def guarded(action: str) -> Iterator[None]:
    """Run a block; user errors become ``st.error``, anything else a short apology.

    The rest of the page keeps rendering, so the next action works.
    """
    try:
        yield
    except DomainLensError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:
        log.exception("%s failed", action)
        st.error(f"{action} failed: {type(exc).__name__}: {exc}. The app is still running; try again or "
                 "change the input.", icon=":material/error:")
