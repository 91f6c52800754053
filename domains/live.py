"""A live replay: a worker thread paces events through the micro-batcher into a
domain monitor. The Live tab starts and stops it and polls its snapshot."""

from __future__ import annotations

import threading

import polars as pl

from domains.base import LiveMonitor, Predictor
from models.streaming import LatencyStats, MicroBatcher, replay
from models.training import CancelToken


class LiveRun:
    def __init__(
        self,
        predictor: Predictor,
        monitor: LiveMonitor,
        events: pl.DataFrame,
        *,
        rows_per_s: float,
        max_batch_rows: int = 256,
        max_wait_s: float = 0.2,
        loop: bool = True,
    ) -> None:
        self.monitor = monitor
        self.stats = LatencyStats()
        self.error: str | None = None
        self._stop = CancelToken()
        self._lock = threading.Lock()
        self._batcher = MicroBatcher(predictor.predict, max_batch_rows=max_batch_rows, max_wait_s=max_wait_s)
        self._source = replay(events, rows_per_s=rows_per_s, chunk_rows=1, loop=loop, stop=self._stop)
        self._thread = threading.Thread(target=self._run, name="domainlens-live", daemon=True)

    def start(self) -> LiveRun:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the worker; True once the thread has really exited."""
        self._stop.cancel()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def summary(self) -> dict[str, float]:
        with self._lock:
            return self.stats.summary()

    def _run(self) -> None:
        try:
            for result in self._batcher.run(self._source, stop=self._stop):
                self.monitor.update(result.inputs, result.outputs)
                with self._lock:
                    self.stats.add(result)
        except Exception as exc:  # shown on the page; the app keeps running
            self.error = f"{type(exc).__name__}: {exc}"
