"""Credit scoring throughput: German Credit replicated to 1,000,000 events through the
micro-batcher with the tree model, against predict() one row at a time (sampled), in
the same process on the same model.

Run: .venv/bin/python benchmarks/credit_stream.py [--rows N] [--batch-rows B]
"""

from __future__ import annotations

import argparse
import time

import polars as pl
import torch

from benchmarks.results import Row
from domains import registry
from domains.base import TrainSettings
from models.control import CancelToken
from models.streaming import LatencyStats, MicroBatcher, replay

TARGET_ROWS_PER_S = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=32_768)
    parser.add_argument("--single-sample", type=int, default=300)
    args = parser.parse_args()
    rate, single_rate, wall, summary = measure(args.rows, args.batch_rows, args.single_sample)
    print(f"rows: {args.rows:,}  batches: {int(summary['batches'])}  max batch: {args.batch_rows:,}  "
          f"threads: {torch.get_num_threads()}")
    print(f"micro-batched : {rate:,.0f} rows/s end to end ({wall:.2f} s); "
          f"batch latency p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms")
    print(f"one at a time : {single_rate:,.0f} rows/s (sampled {args.single_sample} rows)")
    print(f"ratio         : {rate / single_rate:,.0f}x")
    print(f"target {TARGET_ROWS_PER_S:,} rows/s: {'met' if rate >= TARGET_ROWS_PER_S else 'NOT met'}")


def bench_rows() -> list[Row]:
    rate, single_rate, _, _ = measure(1_000_000, 32_768, 300)
    return [Row("credit: stream scoring, 1M events (LightGBM)", rate, single_rate, "rows/s",
                f">= {TARGET_ROWS_PER_S:,} rows/s", rate >= TARGET_ROWS_PER_S)]


def measure(n_rows: int, batch_rows: int, single_sample: int) -> tuple[float, float, float, dict[str, float]]:
    """(micro-batched rows/s, one-row-at-a-time rows/s, wall seconds, latency summary)."""
    domain = registry.get("credit_risk")
    data = domain.load_data()
    predictor = domain.train(domain.models()[0], data, TrainSettings(), device=torch.device("cpu"),
                             progress=lambda p: None, cancel=CancelToken()).predictor
    events = domain.stream(data)
    events = pl.concat([events] * (n_rows // events.height + 1)).head(n_rows)
    predictor.predict(events.head(1000))  # warm-up

    # Baseline: one row at a time, as a naive per-event service would.
    sample = events.head(single_sample)
    t0 = time.perf_counter()
    for i in range(sample.height):
        predictor.predict(sample.slice(i, 1))
    single_rate = sample.height / (time.perf_counter() - t0)

    # Ours: the same events as a stream of 1,000-row arrivals through the micro-batcher.
    stats = LatencyStats(window=10_000)
    batcher = MicroBatcher(predictor.predict, max_batch_rows=batch_rows, max_wait_s=0.05)
    t0 = time.perf_counter()
    for result in batcher.run(replay(events, chunk_rows=1000)):
        stats.add(result)
    wall = time.perf_counter() - t0
    return n_rows / wall, single_rate, wall, stats.summary()


if __name__ == "__main__":
    main()
