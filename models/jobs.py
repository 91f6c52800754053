"""Background jobs: run a long function (training, evaluation) on a worker thread,
collect its progress reports, and let any thread cancel it.

The dashboard keeps a ``Job`` in session state and polls it from a fragment; the
CLI runs the same functions in the foreground. A job never shares mutable state
with the caller except through its own lock-protected fields.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from models.training import CancelToken, Progress, TrainingCancelledError

T = TypeVar("T")


class JobState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


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

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._history: list[Progress] = []
        self._latest: Progress | None = None
        self._thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)

    def start(self) -> Job[T]:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job; True once it has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING

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
        except TrainingCancelledError:
            self._finish(JobState.CANCELLED, error="cancelled by user")
        except Exception as exc:  # reported to the user; the thread must not die silently
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._finish(JobState.FAILED, error=detail)
        else:
            with self._lock:
                self.result = value
            self._finish(JobState.DONE)

    def _finish(self, state: JobState, error: str | None = None) -> None:
        with self._lock:
            self.error = error
            self.finished = time.time()
            self.state = state


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
