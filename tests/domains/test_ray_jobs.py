"""The dashboard's Ray jobs without a cluster: records found again per visitor and page,
status and progress read from the job's log, and a clear error with no cluster configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from domains.server import ray_jobs
from models.distributed import ClusterError


class _FakeClient:
    """What Ray's JobSubmissionClient answers for one job."""

    def __init__(self, state: str, logs: str) -> None:
        self.state, self.logs, self.submitted = state, logs, []

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted.append(kwargs)
        return f"raysubmit_{len(self.submitted)}"

    def get_job_status(self, job_id: str) -> Any:
        return type("Status", (), {"value": self.state})()

    def get_job_logs(self, job_id: str) -> str:
        return self.logs


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> _FakeClient:
    fake = _FakeClient("RUNNING", "")
    monkeypatch.setenv("DOMAINLENS_HOME", str(tmp_path))
    monkeypatch.setenv(ray_jobs.ADDRESS_ENV, "http://head:8265")
    monkeypatch.setattr(ray_jobs, "_address", lambda: "http://head:8265")
    monkeypatch.setattr(ray_jobs, "_client", lambda address: fake)
    return fake


def test_a_submitted_job_is_found_again_by_its_visitor_only(cluster: _FakeClient) -> None:
    frame = pl.DataFrame({"x": [1, 2, 3]})
    first = ray_jobs.submit("credit_risk", "spec:gbm", frame, owner="ana", data="a.csv", model="gbm")
    second = ray_jobs.submit("credit_risk", "/ckpt/gbm/v2", frame, owner="ana", data="b.csv", model="gbm/v2")
    ray_jobs.submit("credit_risk", "spec:gbm", frame, owner="bo", data="c.csv", model="gbm")
    assert ray_jobs.latest("ana", "credit_risk") == second != first
    assert ray_jobs.latest("ana", "text_classification") is None
    entry = cluster.submitted[1]["entrypoint"]
    assert "--checkpoint /ckpt/gbm/v2" in entry and "--backend ray --address auto" in entry
    assert "--model gbm" in cluster.submitted[0]["entrypoint"]
    assert pl.read_parquet(Path(second.folder) / "input.parquet").equals(frame)


def test_status_reads_progress_and_the_jobs_own_error(cluster: _FakeClient) -> None:
    job = ray_jobs.submit("credit_risk", "spec:gbm", pl.DataFrame({"x": range(900)}), owner="ana", data="a.csv",
                          model="gbm")
    cluster.logs = "predict on Ray:  10%| | 90/900 [00:01<00:09]\rpredict on Ray:  50%| | 450/900 [00:02<00:02]"
    running = ray_jobs.status(job)
    assert (running.state, running.done, running.total, running.finished) == ("RUNNING", 450, 900, False)
    cluster.state, cluster.logs = "FAILED", cluster.logs + "\nerror: /data/x.csv: line 3 is not UTF-8 text\n"
    failed = ray_jobs.status(job)
    assert failed.finished and failed.message == "/data/x.csv: line 3 is not UTF-8 text"


def test_no_cluster_configured_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ray_jobs.ADDRESS_ENV, raising=False)
    assert ray_jobs.cluster_address() is None
    with pytest.raises(ClusterError, match=ray_jobs.ADDRESS_ENV):
        ray_jobs.submit("credit_risk", "spec:gbm", pl.DataFrame({"x": [1]}), owner="a", data="a.csv", model="gbm")
