"""Opening a page in AppTest and waiting on the background work it starts (training jobs, live streams)."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def open_page(key: str, timeout: float = 120) -> AppTest:
    """The app, run once, then switched to a domain's page."""
    return AppTest.from_file(APP, default_timeout=timeout).run().switch_page(f"screens/{key}.py").run()


def wait_for_job(at: AppTest, key: str, timeout: float = 120) -> None:
    job = at.session_state[key]
    assert job.join(timeout)


def wait_for_rows(run, rows: int, timeout: float = 30) -> None:
    """Until the live run has scored ``rows`` events (or the timeout passes; callers assert)."""
    deadline = time.time() + timeout
    while run.summary()["rows"] < rows and time.time() < deadline:
        time.sleep(0.2)
