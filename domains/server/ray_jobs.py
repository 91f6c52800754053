"""Batch scoring sent to a Ray cluster through Ray's job submission API: what the dashboard's
"Run on Ray" uses. The server never calls ``ray.init`` (a Streamlit rerun is no place to
join a cluster); it submits ``domainlens predict ... --backend ray --address auto`` as a Ray
job, keeps a small record of it on disk, and reads the job's status and progress back
from the cluster, so a refreshed page finds its job again.

The job reads its input from and writes its result to the job's folder under
``$DOMAINLENS_HOME/_ray_jobs``: the cluster's head must see that folder (the same machine,
or a shared mount), and its Python must have DomainLens installed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from domains.base import DataError
from domains.distributed import ENV
from models.checkpoints import artifacts_root, write_json_atomic
from models.distributed import ClusterError, check_reachable

ADDRESS_ENV = "DOMAINLENS_RAY_ADDRESS"  # the cluster's job API, e.g. http://head:8265
PYTHON_ENV = "DOMAINLENS_RAY_PYTHON"  # the Python the head runs DomainLens with (default: this server's)
RECORD = "job.json"
_PROGRESS = re.compile(r"(\d+)/(\d+) \[")
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def cluster_address() -> str | None:
    """The configured cluster, or None: then the dashboard offers nothing Ray-related."""
    return os.environ.get(ADDRESS_ENV, "").strip() or None


def jobs_root() -> Path:
    return artifacts_root() / "_ray_jobs"


@dataclass(frozen=True)
class RayJob:
    """One submitted batch: whose, what, and where its files are."""

    id: str  # Ray's submission id
    owner: str
    domain: str
    model: str
    data: str  # the uploaded file's name
    folder: str
    rows: int
    submitted: float

    @property
    def output(self) -> Path:
        return Path(self.folder) / "scored"


@dataclass(frozen=True)
class RayJobStatus:
    state: str  # PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED
    done: int
    total: int
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL


def submit(domain_key: str, model_id: str, frame: pl.DataFrame, *, owner: str, data: str, model: str,
           threshold: float | None = None) -> RayJob:
    """Write ``frame`` to a new job folder and submit its scoring to the cluster.
    ``model_id`` is ``spec:<key>`` for a menu model or a checkpoint folder; ``threshold``
    the one a thresholded model decides at (the user's, else its stored one)."""
    address = _address()
    folder = jobs_root() / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    source = folder / "input.parquet"
    frame.write_parquet(source)
    chosen = ["--model", model_id.removeprefix("spec:")] if model_id.startswith("spec:") else \
        ["--checkpoint", model_id]
    if threshold is not None:
        chosen += ["--threshold", repr(float(threshold))]
    python = os.environ.get(PYTHON_ENV) or sys.executable
    entrypoint = shlex.join([python, "-m", "dashboard.cli", "predict", domain_key, *chosen, "--input", str(source),
                             "--output", str(folder / "scored"), "--backend", "ray", "--address", "auto"])
    env = {k: os.environ[k] for k in ENV if k in os.environ} | {"DOMAINLENS_NO_PROGRESS": "0"}
    try:
        job_id = _client(address).submit_job(entrypoint=entrypoint, runtime_env={"env_vars": env},
                                             metadata={"owner": owner, "domain": domain_key, "data": data[:200]})
    except Exception as exc:
        raise ClusterError(f"the Ray cluster at {address} did not take the job: {_first_line(exc)}") from exc
    job = RayJob(job_id, owner, domain_key, model, data, str(folder), frame.height, time.time())
    write_json_atomic(folder / RECORD, asdict(job))
    return job


def latest(owner: str, domain_key: str) -> RayJob | None:
    """The newest job ``owner`` submitted on this domain's page (how a refreshed page finds it)."""
    found = [job for job in _records() if job.owner == owner and job.domain == domain_key]
    return max(found, key=lambda job: job.submitted) if found else None


def status(job: RayJob) -> RayJobStatus:
    """Where the job is: Ray's state, rows scored (from the job's progress bar in its log)
    and, for a failure, the job's own one-line error."""
    client = _client(_address())
    state = str(client.get_job_status(job.id).value)
    logs = client.get_job_logs(job.id)
    found = _PROGRESS.findall(logs)
    done = int(found[-1][0]) if found else 0
    if state == "SUCCEEDED":
        done = job.rows
    message = None
    if state in {"FAILED", "STOPPED"}:
        errors = [line for line in logs.splitlines() if line.startswith(("error:", "cancelled:"))]
        fallback = f"the job {state.lower()}; see `ray job logs {job.id}`"
        message = errors[-1].removeprefix("error: ") if errors else fallback
    return RayJobStatus(state, done, job.rows, message)


def stop(job: RayJob) -> None:
    _client(_address()).stop_job(job.id)


def result(job: RayJob) -> pl.DataFrame:
    """The scored rows the job wrote (its folder appears only once every row is written)."""
    files = sorted(job.output.glob("*.parquet"))
    if not files:
        raise DataError(f"no result in {job.output}: the job has not finished, or it wrote elsewhere")
    return pl.read_parquet(files)


def _address() -> str:
    address = cluster_address()
    if address is None:
        raise ClusterError(f"no Ray cluster is configured; set {ADDRESS_ENV} to its job API, e.g. http://head:8265")
    check_reachable(address)
    return address


def _client(address: str) -> Any:
    return _connected(address, _token())


@functools.lru_cache(maxsize=8)
def _connected(address: str, token: str | None) -> Any:
    """One client per cluster and token: making one asks the cluster for its version, which
    a page polling status every second need not repeat."""
    from ray.job_submission import JobSubmissionClient

    headers = {"Authorization": f"Bearer {token}"} if token else None
    return JobSubmissionClient(address, headers=headers)


def _token() -> str | None:
    """The cluster's token where Ray keeps it (clusters Ray starts itself ask for one):
    ``RAY_AUTH_TOKEN``, the file at ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _records() -> list[RayJob]:
    jobs = []
    for path in jobs_root().glob(f"*/{RECORD}"):
        try:
            jobs.append(RayJob(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue  # a record being written, or from another version: not this visitor's concern
    return jobs


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
