"""Opening a page in AppTest and waiting on the background work it starts (training jobs, live streams)."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def open_page(key: str, timeout: float = 120) -> AppTest:
    """The app, run once, then switched to a domain's page."""
    return wait_for_model(AppTest.from_file(APP, default_timeout=timeout).run().switch_page(f"screens/{key}.py").run())


def wait_for_job(at: AppTest, key: str, timeout: float = 120) -> None:
    job = at.session_state[key]
    assert job.join(timeout)


def wait_for_rows(run, rows: int, timeout: float = 30) -> None:
    """Until the live run has scored ``rows`` events (or the timeout passes; callers assert)."""
    deadline = time.time() + timeout
    while run.summary()["rows"] < rows and time.time() < deadline:
        time.sleep(0.2)


def model_box(at: AppTest):
    """The sidebar's model menu (its widget key changes with the dataset and after training)."""
    return next(box for box in at.sidebar.selectbox if box.label == "Model")


def threshold_slider(at: AppTest):
    return next(s for s in at.slider if s.label.startswith("Decision threshold"))


def wait_for_model(at: AppTest, timeout: float = 180) -> AppTest:
    """Rerun until the default model's background preparation is done and the page uses it."""
    deadline = time.time() + timeout
    while any("being fitted on the default data" in str(i.value) for i in at.info) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    return at
