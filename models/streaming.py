"""The one micro-batcher: groups a stream of input frames into batches by size or
time budget, scores each batch, and yields results with per-batch latency and
running throughput. It serves the dashboard's Live tab, the CLI and benchmarks.

The source is drained by a producer thread into a bounded queue so that the time
budget holds even when events trickle in slowly (a paced replay): a batch is
flushed once it is full *or* its oldest event has waited ``max_wait_s``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from models.control import CancelToken

_END = object()
FEED_THREAD = "domainlens-feed"  # the producer thread's name


@dataclass(frozen=True)
class BatchResult:
    """One scored micro-batch."""

    index: int
    inputs: pl.DataFrame
    outputs: pl.DataFrame
    latency_s: float  # time spent in predict for this batch
    queued_s: float  # how long the oldest event in the batch waited before scoring
    rows_total: int  # rows scored so far, this batch included
    elapsed_s: float  # since the stream started

    @property
    def rows(self) -> int:
        return self.inputs.height

    @property
    def throughput(self) -> float:
        """Rows per second since the stream started."""
        return self.rows_total / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class LatencyStats:
    """Rolling per-batch latency and overall throughput (last ``window`` batches)."""

    window: int = 500

    def __post_init__(self) -> None:
        self._latencies: deque[float] = deque(maxlen=self.window)
        self.rows = 0
        self.batches = 0
        self.elapsed_s = 0.0

    def add(self, result: BatchResult) -> None:
        self._latencies.append(result.latency_s)
        self.rows = result.rows_total
        self.batches += 1
        self.elapsed_s = result.elapsed_s

    def percentile(self, q: float) -> float:
        return float(np.percentile(np.fromiter(self._latencies, float), q)) if self._latencies else 0.0

    @property
    def throughput(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "rows": float(self.rows),
            "batches": float(self.batches),
            "rows_per_s": self.throughput,
            "p50_ms": 1000 * self.percentile(50),
            "p95_ms": 1000 * self.percentile(95),
        }


class MicroBatcher:
    """Score ``predict(frame) -> frame`` over a stream of frames in micro-batches."""

    def __init__(
        self,
        predict: Callable[[pl.DataFrame], pl.DataFrame],
        *,
        max_batch_rows: int = 4096,
        max_wait_s: float = 0.05,
        queue_frames: int = 64,
    ) -> None:
        if max_batch_rows < 1:
            raise ValueError("max_batch_rows must be >= 1")
        self.predict = predict
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.queue_frames = queue_frames

    def run(self, source: Iterable[pl.DataFrame], stop: CancelToken | None = None) -> Iterator[BatchResult]:
        """Yield scored batches until the source ends or ``stop`` is set.

        Stopping is clean: the producer thread exits, pending rows are dropped and
        the generator returns. Errors from the source or from predict propagate.
        """
        stop = stop or CancelToken()
        halt = threading.Event()  # ours: tells the producer to quit, leaves the caller's token alone
        inbox: queue.Queue[object] = queue.Queue(maxsize=self.queue_frames)
        producer = threading.Thread(
            target=self._produce, args=(source, inbox, lambda: stop.cancelled or halt.is_set()), daemon=True,
            name=FEED_THREAD,
        )
        producer.start()
        start = time.perf_counter()
        pending: list[pl.DataFrame] = []
        pending_rows, oldest, index, total = 0, 0.0, 0, 0
        finished = False
        try:
            while not finished and not stop.cancelled:
                timeout = self.max_wait_s - (time.perf_counter() - oldest) if pending else 0.1
                try:
                    item = inbox.get(timeout=max(timeout, 0.0))
                except queue.Empty:
                    item = None
                if item is _END:
                    finished = True
                elif isinstance(item, BaseException):
                    raise item
                elif isinstance(item, pl.DataFrame) and item.height:
                    if not pending:
                        oldest = time.perf_counter()
                    pending.append(item)
                    pending_rows += item.height
                due = pending and (
                    finished or pending_rows >= self.max_batch_rows or time.perf_counter() - oldest >= self.max_wait_s
                )
                if not due:
                    continue
                frame = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
                queued = time.perf_counter() - oldest
                pending, pending_rows = [], 0
                for offset in range(0, frame.height, self.max_batch_rows):
                    if stop.cancelled:
                        break
                    chunk = frame.slice(offset, self.max_batch_rows)
                    t0 = time.perf_counter()
                    out = self.predict(chunk)
                    latency = time.perf_counter() - t0
                    total += chunk.height
                    yield BatchResult(index, chunk, out, latency, queued, total, time.perf_counter() - start)
                    index += 1
        finally:
            halt.set()
            _drain(inbox)
            producer.join(timeout=1.0)

    @staticmethod
    def _produce(
        source: Iterable[pl.DataFrame], inbox: queue.Queue[object], stopped: Callable[[], bool]
    ) -> None:
        try:
            for frame in source:
                if not _put(inbox, frame, stopped):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(inbox, exc, stopped)
            return
        _put(inbox, _END, stopped)


def _put(inbox: queue.Queue[object], item: object, stopped: Callable[[], bool]) -> bool:
    while not stopped():
        try:
            inbox.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _drain(inbox: queue.Queue[object]) -> None:
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            return


def with_inputs(outputs: pl.DataFrame, inputs: pl.DataFrame) -> pl.DataFrame:
    """Scored rows as every batch path writes them: the predictions, then the inputs. An
    input named like an output (a translation row's own ``src``) is kept as ``input_<name>``."""
    clashes = {c: f"input_{c}" for c in inputs.columns if c in outputs.columns}
    return pl.concat([outputs, inputs.rename(clashes) if clashes else inputs], how="horizontal")


def score_frame(
    predict: Callable[[pl.DataFrame], pl.DataFrame],
    frame: pl.DataFrame,
    *,
    batch_rows: int = 8192,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> pl.DataFrame:
    """Score a whole frame through the micro-batcher: outputs first, then the inputs."""
    parts = []
    for result in MicroBatcher(predict, max_batch_rows=batch_rows).run(replay(frame, chunk_rows=batch_rows)):
        parts.append(with_inputs(result.outputs, result.inputs))
        if on_batch is not None:
            on_batch(result)
    return pl.concat(parts, how="vertical_relaxed")


def replay(
    frame: pl.DataFrame,
    *,
    rows_per_s: float | None = None,
    chunk_rows: int = 1,
    loop: bool = False,
    stop: CancelToken | None = None,
) -> Iterator[pl.DataFrame]:
    """Replay a frame as a stream of small frames, optionally paced to ``rows_per_s``.

    Pacing is by schedule (not sleep-per-event) so the rate holds on average even
    when the consumer is briefly slow.
    """
    if frame.height == 0:
        return
    start = time.perf_counter()
    sent = 0
    while True:
        for offset in range(0, frame.height, chunk_rows):
            if stop is not None and stop.cancelled:
                return
            chunk = frame.slice(offset, chunk_rows)
            if rows_per_s:
                due = start + sent / rows_per_s
                delay = due - time.perf_counter()
                if delay > 0 and stop is not None and stop.wait(delay):
                    return
                if delay > 0 and stop is None:
                    time.sleep(delay)
            sent += chunk.height
            yield chunk
        if not loop:
            return
