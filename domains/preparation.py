"""Menu entries that must be fitted before first use (the imaging CNN, the recommenders'
closed forms, credit's trees) are prepared by one background job per entry and process,
shared by every browser session: pages render at once and show the job's progress.
The fitted model is kept on disk (``fit_on_default_data``), so after a restart the same
job only reads it back."""

from __future__ import annotations

import os
import threading

import torch

from domains.base import Domain, ModelSpec, Predictor
from models.checkpoints import artifacts_root
from models.jobs import Job, JobState

_jobs: dict[tuple[str, ...], Job[Predictor]] = {}
_lock = threading.Lock()


def prepare(domain: Domain, spec: ModelSpec, device: torch.device, *, retry: bool = False) -> Job[Predictor]:
    """The job that makes ``spec`` usable on ``device``: started on the first call, then shared.
    A failed job stays failed (its error is shown) until a caller asks to ``retry``."""
    # Also keyed by where artifacts and data live: the fitted model depends on both.
    key = (domain.key, spec.key, str(device), str(artifacts_root()), os.environ.get("DOMAINLENS_DATA", ""))
    with _lock:
        job = _jobs.get(key)
        if job is None or (retry and job.state in (JobState.FAILED, JobState.CANCELLED)):
            job = Job(name=f"prepare-{domain.key}-{spec.key}",
                      target=lambda progress, cancel: domain.load(spec, device, progress=progress)).start()
            _jobs[key] = job
        return job
