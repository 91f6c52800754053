import time

import polars as pl
import pytest

from models.control import CancelToken
from models.streaming import LatencyStats, MicroBatcher, replay


def _double(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select((pl.col("x") * 2).alias("y"))


def test_all_rows_in_order_and_batch_cap() -> None:
    frame = pl.DataFrame({"x": list(range(1000))})
    results = list(MicroBatcher(_double, max_batch_rows=64).run(replay(frame, chunk_rows=10)))
    out = pl.concat([r.outputs for r in results])
    assert out["y"].to_list() == [2 * i for i in range(1000)]
    assert max(r.rows for r in results) <= 64
    assert results[-1].rows_total == 1000 and results[-1].throughput > 0


def test_time_budget_flushes_partial_batches_on_slow_stream() -> None:
    frame = pl.DataFrame({"x": list(range(12))})
    batcher = MicroBatcher(_double, max_batch_rows=1000, max_wait_s=0.05)
    results = list(batcher.run(replay(frame, rows_per_s=100, chunk_rows=1)))
    assert sum(r.rows for r in results) == 12
    assert len(results) >= 2  # a size-only batcher would emit one batch at the end
    assert all(r.queued_s < 0.5 for r in results)


def test_stop_ends_stream_promptly() -> None:
    frame = pl.DataFrame({"x": list(range(100))})
    stop = CancelToken()
    started = time.perf_counter()
    seen = 0
    for result in MicroBatcher(_double, max_batch_rows=8).run(replay(frame, rows_per_s=200, loop=True, stop=stop),
                                                               stop=stop):
        seen += result.rows
        if seen >= 20:
            stop.cancel()
    assert time.perf_counter() - started < 2.0
    assert 20 <= seen < 100


def test_errors_propagate_from_source_and_predict() -> None:
    def bad_source():
        yield pl.DataFrame({"x": [1]})
        raise ValueError("source broke")

    with pytest.raises(ValueError, match="source broke"):
        list(MicroBatcher(_double).run(bad_source()))

    def bad_predict(frame: pl.DataFrame) -> pl.DataFrame:
        raise RuntimeError("model broke")

    with pytest.raises(RuntimeError, match="model broke"):
        list(MicroBatcher(bad_predict).run(replay(pl.DataFrame({"x": [1, 2]}))))


def test_latency_stats_percentiles() -> None:
    stats = LatencyStats()
    for i, result in enumerate(MicroBatcher(_double, max_batch_rows=1).run(replay(pl.DataFrame({"x": range(20)})))):
        stats.add(result)
        assert result.index == i
    summary = stats.summary()
    assert summary["rows"] == 20 and summary["batches"] == 20
    assert 0 <= summary["p50_ms"] <= summary["p95_ms"]
