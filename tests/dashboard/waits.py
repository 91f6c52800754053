"""Opening a page in AppTest and waiting on the background work it starts (training jobs, live streams)."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

TAB = "tab"  # the page's tabs widget key (bound to ?tab= in the address)
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def open_page(key: str, timeout: float = 120, tab: str = "Explore") -> AppTest:
    """The app, run once, then switched to a domain's page, open on ``tab`` (a run draws
    only the open tab)."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.session_state[TAB] = tab
    return wait_for_model(at.switch_page(f"screens/{key}.py").run())


def tab_of(request) -> str:
    """The tab a test asked its page to open on with ``@pytest.mark.tab("Live")``."""
    marker = request.node.get_closest_marker("tab")
    return str(marker.args[0]) if marker else "Explore"


def show_tab(at: AppTest, tab: str) -> AppTest:
    """Open ``tab`` on the page, as a click on it does (the page reruns and draws it)."""
    at.session_state[TAB] = tab
    at.query_params[TAB] = tab  # the tabs are bound to the address, which wins over session state
    return wait_for_model(at.run())  # a tab that needs the model waits for its first fit, as a user does


def wait_for_job(at: AppTest, key: str, timeout: float = 120) -> None:
    job = at.session_state[key]
    assert job.join(timeout)


def wait_for_batch(at: AppTest, domain_key: str, timeout: float = 120) -> AppTest:
    """Until the page's batch-scoring job is done, then run the page to draw its result."""
    assert at.session_state[f"{domain_key}-batch-job"].join(timeout)
    return at.run()


def wait_for_rows(run, rows: int, timeout: float = 30) -> None:
    """Until the live run has scored ``rows`` events (or the timeout passes; callers assert)."""
    deadline = time.time() + timeout
    while run.summary()["rows"] < rows and time.time() < deadline:
        time.sleep(0.2)


def wait_stopped(run, timeout: float = 60) -> bool:
    """Until the live run's worker has exited after Stop: the click waits 2 s for it, then the
    page says "Stream is stopping..." while a batch in flight (a slow translation on a busy
    machine) finishes."""
    deadline = time.time() + timeout
    while run.running and time.time() < deadline:
        time.sleep(0.2)
    return not run.running


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


def block_text(at: AppTest, key: str) -> str:
    """The text of the markdown inside the container ``key`` (markdown escapes removed)."""
    import re

    def find(node):
        if getattr(node, "key", None) == key:
            return node
        children = getattr(node, "children", None)
        for child in (children.values() if isinstance(children, dict) else []):
            hit = find(child)
            if hit is not None:
                return hit
        return None

    block = find(at.main)
    if block is None:
        raise KeyError(key)
    parts = [c.value for c in block.children.values() if type(c).__name__ == "Markdown"]
    return re.sub(r"\\(.)", r"\1", "\n".join(parts)).replace("  \n", "\n")


def click_button(at: AppTest, label: str) -> AppTest:
    """Click the (form or plain) button labelled ``label`` and run."""
    return next(b for b in at.button if b.label == label).click().run()


def number(text: str) -> float:
    """A metric's shown value as a number: "73.1%" -> 0.731, "1,234" -> 1234.0."""
    clean = text.strip().replace(",", "")
    return float(clean[:-1]) / 100 if clean.endswith("%") else float(clean.split()[0])
