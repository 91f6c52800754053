"""Background jobs: run a long function (training, evaluation) on a worker thread,
collect its progress reports, and let any thread cancel it.

Heavy jobs go through a ``JobRegistry``: one per server, so every browser session sees
the same jobs, a refreshed page finds its job again, and at most ``limits[kind]`` jobs
of a kind run at once (the rest wait in a queue, first come first served). Each job's
record is kept on disk, so after a restart what was running shows as interrupted. The
CLI runs the same functions in the foreground. A job never shares mutable state with
the caller except through its own lock-protected fields.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from models.checkpoints import write_json_atomic
from models.control import CancelledError, CancelToken, Progress
from models.errors import DomainLensError

T = TypeVar("T")


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for a free slot of its kind
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # was running when the server stopped; nothing half-written remains


ACTIVE = (JobState.QUEUED, JobState.RUNNING)


@dataclass
class Job(Generic[T]):
    """A function running on a daemon thread with progress, cancel and a result."""

    name: str
    target: Callable[[Callable[[Progress], None], CancelToken], T]
    cancel_token: CancelToken = field(default_factory=CancelToken)
    state: JobState = JobState.RUNNING
    result: T | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    # What the registry lists: the kind of work and who asked for it.
    kind: str = "job"
    domain: str = ""
    model: str = ""
    data: str = ""
    owner: str = ""
    describe: Callable[[T], str] | None = None  # the result in a few words (e.g. the checkpoint's path)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._history: list[Progress] = []
        self._latest: Progress | None = None
        self._on_finish: list[Callable[[Job[T]], None]] = []
        self._thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)

    def start(self) -> Job[T]:
        self.state = JobState.RUNNING
        self.started = time.time()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop at the job's next step; a queued job is dropped at once."""
        self.cancel_token.cancel()
        with self._lock:
            queued = self.state is JobState.QUEUED
        if queued:
            self._finish(JobState.CANCELLED, error="cancelled by user")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job (queued time included); True once it has finished."""
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING

    @property
    def active(self) -> bool:
        """Queued or running: the job still holds (or waits for) a slot."""
        return self.state in ACTIVE

    @property
    def latest(self) -> Progress | None:
        with self._lock:
            return self._latest

    def status_line(self) -> str:
        """What the job is doing, for people: its stage, step of total, time spent and left."""
        latest = self.latest
        elapsed = time.time() - self.started
        parts = [latest.stage] if latest and latest.stage else []
        if latest and latest.total:
            parts.append(f"step {latest.step:,} of {latest.total:,}")
        parts.append(f"{format_duration(elapsed)} elapsed")
        if latest and 0.02 <= latest.fraction < 1.0:
            parts.append(f"about {format_duration(elapsed * (1 - latest.fraction) / latest.fraction)} left")
        return " · ".join(parts) if latest else f"starting... ({format_duration(elapsed)})"

    def history(self) -> list[Progress]:
        """Progress reports that carried epoch/fold-level metrics (for curves)."""
        with self._lock:
            return list(self._history)

    def _report(self, progress: Progress) -> None:
        with self._lock:
            self._latest = progress
            # Step-level reports are frequent; keep the ones with metrics beyond a
            # running loss so curves stay small however long the job runs.
            if set(progress.metrics) - {"train_loss"} or not self._history:
                self._history.append(progress)

    def _run(self) -> None:
        try:
            value = self.target(self._report, self.cancel_token)
        except CancelledError:
            self._finish(JobState.CANCELLED, error="cancelled by user")
        except DomainLensError as exc:  # written for the user: its message as it is, no class name
            self._finish(JobState.FAILED, error=str(exc))
        except Exception as exc:  # reported to the user; the thread must not die silently
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._finish(JobState.FAILED, error=detail)
        else:
            with self._lock:
                self.result = value
            self._finish(JobState.DONE)

    def _finish(self, state: JobState, error: str | None = None) -> None:
        with self._lock:
            if self.state not in ACTIVE:
                return  # a queued job cancelled twice, or cancelled as its slot came
            self.error = error
            self.finished = time.time()
            self.state = state
            callbacks = list(self._on_finish)
        self._done.set()
        for callback in callbacks:
            callback(self)

    def record(self) -> JobRecord:
        """A snapshot for lists and for the registry's file."""
        latest = self.latest
        result = self.describe(self.result) if self.describe is not None and self.result is not None else None
        return JobRecord(self.id, self.kind, self.domain, self.model, self.data, self.owner, self.started,
                         self.finished, str(self.state), self.error, result,
                         latest.fraction if latest else 0.0, self.status_line() if self.active else str(self.state))


@dataclass(frozen=True)
class JobRecord:
    """One job as lists show it, alive or read back after a restart."""

    id: str
    kind: str
    domain: str
    model: str
    data: str
    owner: str
    started: float
    finished: float | None
    state: str
    error: str | None
    result: str | None
    fraction: float
    status: str


class JobRegistry:
    """The server's heavy jobs: at most ``limits[kind]`` of a kind run at once, the rest
    queue in arrival order. Records live in ``folder`` (one JSON file per job, written
    atomically), so a restarted server lists what was running then as interrupted. A
    finished job keeps its result (a scored file, a trained model) in memory for
    ``keep_s`` seconds, for its page to find after a refresh; then only its record stays."""

    def __init__(self, folder: Path, limits: Mapping[str, int], keep_s: float = 1800) -> None:
        self.folder = folder
        self.limits = dict(limits)
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._jobs: dict[str, Job[Any]] = {}
        self._queues: dict[str, deque[Job[Any]]] = {}
        self._past = self._read_past()

    def submit(self, job: Job[Any]) -> Job[Any]:
        """Run ``job`` now if its kind has a free slot, else queue it."""
        job.state = JobState.QUEUED
        job._on_finish.append(self._finished)
        self._forget_old()
        with self._lock:
            self._jobs[job.id] = job
            self._queues.setdefault(job.kind, deque()).append(job)
        self._save(job)
        self._dispatch(job.kind)
        return job

    def get(self, job_id: str) -> Job[Any] | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job[Any]) -> int | None:
        """1 for the next job to start; None once it is running or finished."""
        with self._lock:
            queue = self._queues.get(job.kind, deque())
            return queue.index(job) + 1 if job in queue else None

    def running(self, kind: str) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.kind == kind and j.running)

    def latest_of(self, owner: str, kind: str, domain: str) -> Job[Any] | None:
        """The newest job ``owner`` started of this kind and domain (to reattach a page)."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner and j.kind == kind and j.domain == domain]
        return max(mine, key=lambda j: j.started) if mine else None

    def records(self, domain: str | None = None, limit: int = 20) -> list[JobRecord]:
        """Active jobs first (in start order), then the most recent finished ones, newest first."""
        with self._lock:
            live = [j.record() for j in self._jobs.values()]
        records = [r for r in [*live, *self._past] if domain is None or r.domain == domain]
        active = sorted((r for r in records if r.state in ACTIVE), key=lambda r: r.started)
        done = sorted((r for r in records if r.state not in ACTIVE), key=lambda r: -(r.finished or r.started))
        return [*active, *done][:limit]

    def _forget_old(self) -> None:
        cutoff = time.time() - self.keep_s
        with self._lock:
            old = [j for j in self._jobs.values() if not j.active and (j.finished or j.started) < cutoff]
            for job in old:
                del self._jobs[job.id]
                self._past.append(job.record())

    def _dispatch(self, kind: str) -> None:
        starting: list[Job[Any]] = []
        with self._lock:
            queue = self._queues.get(kind, deque())
            free = self.limits.get(kind, 1) - sum(1 for j in self._jobs.values() if j.kind == kind and j.running)
            while queue and free > 0:
                job = queue.popleft()
                if job.state is not JobState.QUEUED:
                    continue  # cancelled while it waited
                job.state = JobState.RUNNING  # claims the slot before the lock is released
                starting.append(job)
                free -= 1
        for job in starting:
            job.start()
            self._save(job)

    def _finished(self, job: Job[Any]) -> None:
        with self._lock:
            queue = self._queues.get(job.kind, deque())
            if job in queue:
                queue.remove(job)
        self._save(job)
        self._dispatch(job.kind)

    def _save(self, job: Job[Any]) -> None:
        # A read-only or full disk must not stop the job; the list in memory still has it.
        with contextlib.suppress(OSError):
            write_json_atomic(self.folder / f"{job.id}.json", asdict(job.record()))

    def _read_past(self) -> list[JobRecord]:
        """Records of an earlier server: whatever was queued or running then was interrupted."""
        past = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                record = JobRecord(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if record.state in ACTIVE:
                record = JobRecord(**{**asdict(record), "state": str(JobState.INTERRUPTED),
                                      "status": "interrupted: the server stopped while it ran; nothing was saved",
                                      "finished": record.finished or record.started})
                write_json_atomic(path, asdict(record))
            past.append(record)
        return past


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
