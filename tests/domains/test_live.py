"""A live run stops when asked, and by itself once its owner (the browser session) is gone."""

from __future__ import annotations

import time

import polars as pl

from domains.server.live import LiveRun, running_streams
from domains.sources import ReplaySource


class _Predictor:
    model_key = "echo"

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.select(pl.col("x").alias("y"))


class _Monitor:
    def __init__(self) -> None:
        self.rows = 0

    def update(self, inputs: pl.DataFrame, outputs: pl.DataFrame) -> None:
        self.rows += outputs.height

    def charts(self) -> dict:  # type: ignore[type-arg]
        return {}

    def alerts(self) -> list[str]:
        return []

    def table(self) -> pl.DataFrame:
        return pl.DataFrame()


def _run(alive=None, grace_s: float = 0.5) -> LiveRun:
    events = pl.DataFrame({"x": list(range(100))})
    return LiveRun(_Predictor(), _Monitor(), ReplaySource(events, rows_per_s=200), max_batch_rows=8, alive=alive,
                   grace_s=grace_s).start()


def _until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def test_stop_ends_the_run_and_the_count_follows() -> None:
    before = running_streams()
    run = _run()
    assert _until(lambda: run.summary()["rows"] > 0)
    assert running_streams() == before + 1
    assert run.stop() and not run.running
    assert running_streams() == before


def test_a_run_whose_owner_is_gone_stops_after_the_grace_period() -> None:
    owner = {"here": True}
    run = _run(alive=lambda: owner["here"], grace_s=0.5)
    assert _until(lambda: run.summary()["rows"] > 0)
    time.sleep(0.7)
    assert run.running  # the owner is still there: the run goes on
    owner["here"] = False
    gone = time.monotonic()
    assert _until(lambda: not run.running, timeout=5.0)
    assert time.monotonic() - gone >= 0.5  # not before the grace period
    assert run.stop_reason == "its browser session ended"


def test_a_brief_disconnect_within_the_grace_period_is_forgiven() -> None:
    owner = {"here": True}
    run = _run(alive=lambda: owner["here"], grace_s=1.0)
    owner["here"] = False
    time.sleep(0.4)
    owner["here"] = True  # reconnected
    time.sleep(1.0)
    assert run.running
    run.stop()


class _SlowPredictor(_Predictor):
    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        time.sleep(0.02 * batch.height)  # about 50 rows a second
        return super().predict(batch)


def test_a_replay_scored_slower_than_asked_says_what_rate_it_holds() -> None:
    events = pl.DataFrame({"x": list(range(10_000))})
    slow = LiveRun(_SlowPredictor(), _Monitor(), ReplaySource(events, rows_per_s=1000), max_batch_rows=1).start()
    fast = LiveRun(_Predictor(), _Monitor(), ReplaySource(events, rows_per_s=100), max_batch_rows=8).start()
    try:
        assert _until(lambda: slow.falling_behind(after_s=1.0) is not None, timeout=10)
        asked, held = slow.falling_behind(after_s=1.0)  # type: ignore[misc]
        assert asked == 1000 and 20 < held < 80
        time.sleep(1.5)
        assert fast.falling_behind(after_s=1.0) is None  # keeping up: nothing to say
    finally:
        slow.stop()
        fast.stop()
