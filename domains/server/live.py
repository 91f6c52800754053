"""A live run: a worker thread takes events from a source (``domains.sources``: a replay, the
model server's traffic, a folder, a Redis stream), scores them through the micro-batcher
unless the source scored them already, and feeds a domain monitor. The Live tab starts and
stops it and polls its snapshot.

A run belongs to whoever started it: given ``alive`` (for the dashboard, "is the browser
session still connected"), a watchdog stops the run once ``alive`` has been false for
``grace_s`` seconds, so a closed tab never leaves a stream scoring on the server.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator

from domains.base import DataError, LiveMonitor, Predictor
from domains.server.jobs import limits
from domains.sources import EventSource
from models.control import CancelToken
from models.streaming import BatchResult, LatencyStats, MicroBatcher

THREAD_NAME = "domainlens-live"
_RUNS: weakref.WeakSet[LiveRun] = weakref.WeakSet()  # every run of this process, for running_streams()


class LiveRun:
    def __init__(
        self,
        predictor: Predictor,
        monitor: LiveMonitor,
        source: EventSource,
        *,
        max_batch_rows: int = 256,
        max_wait_s: float = 0.2,
        alive: Callable[[], bool] | None = None,
        grace_s: float = 2.0,
    ) -> None:
        self.predictor, self.monitor, self.source = predictor, monitor, source
        self.stats = LatencyStats()
        self.error: str | None = None
        self._stop = CancelToken()
        self._lock = threading.Lock()
        self._batcher = MicroBatcher(predictor.predict, max_batch_rows=max_batch_rows, max_wait_s=max_wait_s)
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._alive, self._grace_s = alive, grace_s

    def start(self) -> LiveRun:
        _RUNS.add(self)
        self._thread.start()
        if self._alive is not None:
            threading.Thread(target=self._watch, name=f"{THREAD_NAME}-watch", daemon=True).start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the worker; True once the thread has really exited."""
        self._stop.cancel()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped when it was not its owner's Stop (e.g. the browser session ended)."""
        return self._stop.reason or None

    def falling_behind(self, after_s: float = 5.0) -> tuple[float, float] | None:
        """(the rate asked, the rate held) when a paced replay is scored clearly slower than
        asked, once it has run ``after_s``: events then queue up and reach the page late."""
        asked = getattr(self.source, "rows_per_s", None)
        with self._lock:
            held, elapsed = self.stats.throughput, self.stats.elapsed_s
        if not asked or elapsed < after_s or held >= 0.8 * asked:
            return None
        return float(asked), held

    def summary(self) -> dict[str, float]:
        with self._lock:
            return self.stats.summary()

    def _watch(self) -> None:
        """Stop the run once its owner has been gone for ``grace_s`` (a reconnect within it is fine)."""
        assert self._alive is not None
        gone_since: float | None = None
        while self._thread.is_alive() and not self._stop.cancelled:
            if self._alive():
                gone_since = None
            elif gone_since is None:
                gone_since = time.monotonic()
            elif time.monotonic() - gone_since >= self._grace_s:
                self._stop.cancel("its browser session ended")
                return
            time.sleep(0.25)

    def _run(self) -> None:
        try:
            for result, done in self._results():
                if result.rows:  # a scored source's further requests carry latency only
                    self.monitor.update(result.inputs, result.outputs)
                with self._lock:
                    self.stats.add(result)
                if done is not None:
                    done()  # e.g. acknowledged on the Redis stream: a restart will not see it again
        except Exception as exc:  # shown on the page; the app keeps running
            self.error = f"{type(exc).__name__}: {exc}"

    def _results(self) -> Iterator[tuple[BatchResult, Callable[[], None] | None]]:
        """Scored batches: through the micro-batcher for sources whose events may be regrouped,
        one ``predict`` per arrival for those that acknowledge what they read, as they came for
        those scored already (the server's own latency is what the stats show)."""
        arrivals = self.source.arrivals(self._stop)
        if self.source.batched:
            frames = (a.inputs for a in arrivals)
            yield from ((r, None) for r in self._batcher.run(frames, stop=self._stop))
            return
        started, total, index = time.perf_counter(), 0, 0
        for arrival in arrivals:
            outputs, latencies = arrival.outputs, arrival.latencies_s
            if outputs is None:
                t0 = time.perf_counter()
                outputs = self.predictor.predict(arrival.inputs)
                latencies = (time.perf_counter() - t0,)
            total += arrival.inputs.height
            for k, latency in enumerate(latencies or (0.0,)):
                rows = (arrival.inputs, outputs) if k == 0 else (arrival.inputs.clear(), outputs.clear())
                result = BatchResult(index, *rows, latency, 0.0, total, time.perf_counter() - started)
                index += 1
                yield result, (arrival.done if k == 0 else None)


def running_streams() -> int:
    """Live runs scoring in this process now (the server's, across every browser session)."""
    return sum(1 for run in list(_RUNS) if run.running)


def start_live(predictor: Predictor, monitor: LiveMonitor, source: EventSource, *, max_batch_rows: int,
               alive: Callable[[], bool] | None = None) -> LiveRun:
    """A live run, started, within the server's limit of streams (paced replays are light,
    but each holds a scoring thread); at the limit, ``DataError`` says so."""
    limit, running = limits()["stream"], running_streams()
    if running >= limit:
        raise DataError(f"busy: {running} live streams are running on this server (its limit is {limit}). "
                        "Try again when one stops.")
    return LiveRun(predictor, monitor, source, max_batch_rows=max_batch_rows, alive=alive).start()
