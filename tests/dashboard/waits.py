"""Waiting on the background work an AppTest starts (training jobs, live streams)."""

import time

from streamlit.testing.v1 import AppTest


def wait_for_job(at: AppTest, key: str, timeout: float = 120) -> None:
    job = at.session_state[key]
    assert job.join(timeout)


def wait_for_rows(run, rows: int, timeout: float = 30) -> None:
    """Until the live run has scored ``rows`` events (or the timeout passes; callers assert)."""
    deadline = time.time() + timeout
    while run.summary()["rows"] < rows and time.time() < deadline:
        time.sleep(0.2)
