"""The control primitives every long piece of work shares: training loops, generation,
live streams, batch scoring and Ray jobs are all stopped by a ``CancelToken`` and report
through a ``ProgressFn``. One token type means a Stop button, a closed browser tab and a
cancelled job all stop work the same way, and say why (``CancelToken.reason``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class CancelledError(RuntimeError):
    """Raised inside a piece of work when its cancel token is set."""


class CancelToken:
    """Thread-safe cancel flag, checked between steps; remembers why it was set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = ""

    def cancel(self, reason: str = "") -> None:
        """Ask the work to stop; the first reason given is kept."""
        if not self._event.is_set():
            self._reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        """Why it was cancelled ("" when no reason was given, or not cancelled)."""
        return self._reason

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError(self._reason or "cancelled")

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True early if cancelled."""
        return self._event.wait(seconds)


@dataclass(frozen=True)
class Progress:
    """One progress report: ``step`` of ``total`` (0: not known yet) plus fresh metrics."""

    step: int
    total: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    stage: str = ""

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0


ProgressFn = Callable[[Progress], None]


def no_progress(progress: Progress) -> None:
    """Default progress sink."""
