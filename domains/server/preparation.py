"""Menu entries that must be fitted before first use (the imaging CNN, the recommenders'
closed forms, credit's trees) are prepared by one background job per entry and process,
shared by every browser session: pages render at once and show the job's progress.
The fitted model is kept on disk (``registry.open_predictor``), so after a restart the same
job only reads it back."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import torch

from domains import registry
from domains.base import Domain, ModelSpec, Predictor
from domains.lineage import data_signature, fits
from models.checkpoints import list_bundles
from models.jobs import Job, JobState

_jobs: dict[tuple[str, ...], Job[Predictor]] = {}
_lock = threading.Lock()


def prepare(domain: Domain, spec: ModelSpec, device: torch.device, *, retry: bool = False) -> Job[Predictor]:
    """The job that makes ``spec`` usable on ``device``: started on the first call, then shared.
    A failed job stays failed (its error is shown) until a caller asks to ``retry``."""
    # Also keyed by where the default data comes from: the fitted model depends on it.
    key = (domain.key, spec.key, str(device), os.environ.get("DOMAINLENS_DATA", ""))
    with _lock:
        job = _jobs.get(key)
        if job is None or (retry and job.state in (JobState.FAILED, JobState.CANCELLED)):
            job = Job(name=f"prepare-{domain.key}-{spec.key}",
                      target=lambda progress, cancel: registry.open_predictor(domain, spec, device,
                                                                            progress=progress)).start()
            _jobs[key] = job
        return job


def warm_up(domains: Sequence[Domain], device: torch.device) -> threading.Thread:
    """Prepare each domain's default menu entry in the background, one after another (two
    cores fitting four models at once help nobody), so that a page visited later finds its
    model ready. Skipped for a domain whose default data already has a fitting checkpoint
    (the page opens on that one) or whose default entry is ready-made."""
    # Image domains last: their default fits take minutes on a CPU, the others' seconds.
    ordered = sorted(domains, key=lambda d: d.input_kind == "image")

    def run() -> None:
        for domain in ordered:
            spec = domain.models()[0]
            if spec.ready:
                continue
            try:
                data = domain.load_data()
            except Exception:  # no default data here: the page says what to do when visited
                continue
            signature = data_signature(data)
            if any(fits(b.metadata, signature) for b in list_bundles(domain.key)):
                continue
            prepare(domain, spec, device).join()

    thread = threading.Thread(target=run, name="domainlens-warm-up", daemon=True)
    thread.start()
    return thread
