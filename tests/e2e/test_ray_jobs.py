""""Run on Ray" in a real browser against a real local Ray cluster (head with its job API):
upload, submit, watch the progress, see the result, refresh and find it again, and a
server without a configured cluster shows nothing of it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.e2e.conftest import Served, start_dashboard
from tests.e2e.ui import SIDEBAR, expect, open_page, open_tab

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node Ray cluster with its job API (``ray start --head --block``), stopped after.
    Ready once it takes a job: its API answers a few seconds before its job agent does."""
    pytest.importorskip("ray.dashboard")
    api_port = _free_port()
    address = f"http://127.0.0.1:{api_port}"
    ray = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    log = (tmp_path_factory.mktemp("ray-head") / "head.log").open("wb")
    # Every port its own: another Ray on this machine (a test's local instance) holds the defaults.
    ports = [f"--{name}={_free_port()}" for name in ("port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                                                     "metrics-export-port", "runtime-env-agent-port",
                                                     "ray-client-server-port")]
    head = subprocess.Popen([str(ray), "start", "--head", "--block", *ports, "--include-dashboard=true",
                             "--dashboard-host", "127.0.0.1", f"--dashboard-port={api_port}", "--num-cpus", "2",
                             "--object-store-memory", str(200 * 2**20), "--disable-usage-stats"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            from domains.server import ray_jobs

            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(ray_jobs.ADDRESS_ENV, address)
                ray_jobs._client(ray_jobs._address()).submit_job(entrypoint="true")  # its job agent is up
            break
        except Exception:
            assert head.poll() is None, "ray start --head exited; see its log"
            time.sleep(1)
    else:
        head.terminate()
        pytest.fail("the Ray head's job API did not answer within 120 s")
    yield address
    # Its whole process group at once: a graceful `ray stop` of the head takes about 30 s.
    os.killpg(head.pid, signal.SIGKILL)
    head.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, synthetic_data_dir: Path, prepared_defaults: Path,
           ray_head: str) -> Iterator[Served]:
    """A dashboard configured with the cluster (``DOMAINLENS_RAY_ADDRESS``)."""
    artifacts = tmp_path_factory.mktemp("served-ray") / "artifacts"
    shutil.copytree(prepared_defaults, artifacts / prepared_defaults.name)
    proc, url = start_dashboard(artifacts, synthetic_data_dir, extra_env={"DOMAINLENS_RAY_ADDRESS": ray_head})
    yield Served(url, artifacts, proc.pid)
    proc.terminate()
    proc.wait(10)


def _batch_tab(page: Any) -> None:
    open_page(page, "Credit Risk")
    open_tab(page, "Predict")
    open_tab(page, "Batch file")


@pytest.mark.slow  # default suite: tests/domains/test_distributed.py runs the same Ray job
def test_run_on_ray_scores_the_upload_and_survives_a_refresh(browser_page: Any, served: Served, ray_head: str,
                                                             tmp_path: Path, german_credit_csv: Path) -> None:
    page = browser_page
    loans = tmp_path / "loan-book.csv"
    pl.read_csv(german_credit_csv).head(700).write_csv(loans)
    _batch_tab(page)
    expect()(page.locator(SIDEBAR).get_by_text(f"Ray cluster: {ray_head}")).to_be_visible(timeout=60_000)
    page.locator('[data-testid="stMain"] label').filter(has_text="Run on Ray").click()  # the switch, as a user does
    expect()(page.get_by_role("switch", name="Run on Ray")).to_be_checked()
    page.locator('[data-testid="stMain"] input[type="file"]').last.set_input_files(str(loans))
    page.get_by_role("button", name="Submit to Ray", exact=True).click()
    page.get_by_text("On Ray: loan-book.csv (700 rows)").wait_for(timeout=60_000)
    page.get_by_text("Scored 700 rows on Ray").wait_for(timeout=180_000)
    expect()(page.get_by_role("button", name="Download CSV")).to_be_visible()
    written = sorted((served.artifacts / "_ray_jobs").glob("*/scored/*.parquet"))
    scored = pl.read_parquet(written)
    assert scored.height == 700 and {"p_bad", "decision"} <= set(scored.columns)

    page.reload()  # a new browser session at the same address: the job is found again
    _batch_tab(page)
    page.get_by_text("On Ray: loan-book.csv (700 rows)").wait_for(timeout=60_000)
    expect()(page.get_by_text("Scored 700 rows on Ray")).to_be_visible(timeout=60_000)
    expect()(page.get_by_role("button", name="Download CSV")).to_be_visible()
