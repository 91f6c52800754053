"""The Live tab's event sources on real files, a real prediction log and a real Redis server:
each file scored once with a malformed one reported by its line, the server's answers read as
they land, and a Redis stream read by a consumer group that neither loses nor double-counts
events across a consumer restart and a Redis outage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import torch

from domains import registry
from domains.base import DataError
from domains.sources import Arrival, FolderSource, RedisSource, TrafficSource, inbox_folder
from domains.traffic import Answered, TrafficLog
from models.control import CancelToken
from tests.redis_server import RedisServer


def _take(arrivals: Iterator[Arrival], until: int, stop: CancelToken, timeout_s: float = 20.0) -> list[Arrival]:
    """Arrivals until ``until`` rows have come (or the time is up), then stop the source."""
    got: list[Arrival] = []
    deadline = time.monotonic() + timeout_s
    timer = threading.Timer(timeout_s, stop.cancel)
    timer.start()
    try:
        for arrival in arrivals:
            got.append(arrival)
            if sum(a.inputs.height for a in got) >= until or time.monotonic() > deadline:
                break
    finally:
        timer.cancel()
        stop.cancel()
    return got


@pytest.fixture
def credit_columns(trained_gbm_dir: Path) -> list:  # type: ignore[type-arg]
    domain = registry.get("credit_risk")
    predictor = registry.open_predictor(domain, trained_gbm_dir, torch.device("cpu"))
    return domain.inputs(predictor, domain.load_data())


def test_each_complete_file_is_scored_once_and_a_malformed_one_is_named(
        tmp_path: Path, german_credit_csv: Path, credit_columns: list) -> None:  # type: ignore[type-arg]
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(100)
    bad = rows.slice(0, 20).with_columns(pl.col("duration_in_month").cast(pl.String))
    bad = bad.with_columns(pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("twelve"))
                           .otherwise(pl.col("duration_in_month")).alias("duration_in_month"))
    bad.write_csv(tmp_path / "loans-bad.csv")  # the oldest: read first, skipped whole
    for i in range(5):
        time.sleep(0.01)  # arrival order is modification time
        rows.slice(20 * i, 20).write_csv(tmp_path / f"loans-{i}.csv")
    rows.head(3).write_csv(tmp_path / ".loans-5.csv")  # still being written: a hidden name
    rows.head(3).write_csv(tmp_path / "loans-6.csv.tmp")
    source = FolderSource(registry.get("credit_risk"), tmp_path, credit_columns, poll_s=0.1)
    stop = CancelToken()
    got = _take(source.arrivals(stop), until=100, stop=stop)
    assert [a.inputs.height for a in got] == [20] * 5
    assert pl.concat([a.inputs for a in got]).equals(rows)
    assert any("loans-bad.csv was skipped" in p and "line 8: 'duration_in_month' = 'twelve'" in p
               for p in source.problems()), source.problems()


def test_a_file_renamed_in_later_is_picked_up_and_scored_once(tmp_path: Path, german_credit_csv: Path,
                                                              credit_columns: list) -> None:  # type: ignore[type-arg]
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(10)
    source = FolderSource(registry.get("credit_risk"), tmp_path, credit_columns, poll_s=0.05)
    stop = CancelToken()
    arrivals = source.arrivals(stop)

    def later() -> None:
        time.sleep(0.3)
        rows.write_csv(tmp_path / ".late.csv")
        (tmp_path / ".late.csv").rename(tmp_path / "late.csv")

    threading.Thread(target=later).start()
    got = _take(arrivals, until=10, stop=stop, timeout_s=10)
    assert sum(a.inputs.height for a in got) == 10 and source.files_scored == 1


def test_a_folder_that_does_not_exist_says_so(tmp_path: Path, credit_columns: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(DataError, match="does not exist: create it"):
        FolderSource(registry.get("credit_risk"), tmp_path / "nope", credit_columns)
    with pytest.raises(DataError, match="outside"):
        inbox_folder("../../etc")


def test_send_to_a_folder_keeps_the_rate_in_rows_a_second(tmp_path: Path) -> None:
    """``send --rate 500 --rows-per-file 50``: 500 rows a second in files of 50 (it once wrote
    500 / 50 = 10 rows a second)."""
    from domains.sending import to_folder

    frame = pl.DataFrame({"x": range(300)})
    started = time.perf_counter()
    written = to_folder(tmp_path, frame, rate=1000, rows_per_file=50)
    took = time.perf_counter() - started
    assert [p.name for p in written] == [f"events-{i:05d}.csv" for i in range(6)]
    assert pl.concat([pl.read_csv(p) for p in written])["x"].to_list() == list(range(300))
    # On schedule: the sixth file is due 250 rows in, at 0.25 s; at 10 rows a second it would be 25 s.
    assert 0.24 <= took < 5.0, took


def test_server_traffic_is_read_as_it_lands_and_not_before(tmp_path: Path) -> None:
    log = TrafficLog("credit_risk", root=tmp_path, flush_s=0.1)
    old = Answered("before", "gbm", None, 3.0, pl.DataFrame({"age": [30]}), pl.DataFrame({"p_bad": [0.2]}))
    log.append([old])
    log.flush()
    time.sleep(0.01)
    source = TrafficSource("credit_risk", root=tmp_path, poll_s=0.05, since=datetime.now(UTC))
    for i in range(3):
        log.append([Answered(f"r{i}", "gbm", None, 5.0 + i, pl.DataFrame({"age": [40 + i, 50 + i]}),
                             pl.DataFrame({"p_bad": [0.1, 0.9]}))])
    stop = CancelToken()
    got = _take(source.arrivals(stop), until=6, stop=stop)
    log.close()
    inputs = pl.concat([a.inputs for a in got])
    assert sorted(inputs["age"].to_list()) == [40, 41, 42, 50, 51, 52]  # "before" is not shown
    assert sorted(v for a in got for v in a.latencies_s) == pytest.approx([0.005, 0.006, 0.007])
    assert all(a.outputs is not None and a.outputs.columns == ["p_bad"] for a in got)


def _publish(server: RedisServer, stream: str, start: int, n: int) -> None:
    import redis

    client = redis.Redis.from_url(server.url)
    for i in range(start, start + n):
        client.xadd(stream, {"row": json.dumps({"event": i})})


def _consume(source: RedisSource, rows: int, finish: bool = True) -> list[int]:
    """Events read and, with ``finish``, acknowledged before the next read, as the Live tab does
    once they are on screen (without: a dashboard that crashed before showing them)."""
    seen: list[int] = []
    stop = CancelToken()
    timer = threading.Timer(20, stop.cancel)
    timer.start()
    for arrival in source.arrivals(stop):
        seen += arrival.inputs["event"].to_list()
        if finish and arrival.done is not None:
            arrival.done()
        if len(seen) >= rows:
            break
    timer.cancel()
    stop.cancel()
    return seen


def test_a_restarted_consumer_resumes_without_losing_or_repeating(redis_server: RedisServer) -> None:
    _publish(redis_server, "loans", 0, 100)
    first = RedisSource(redis_server.url, "loans", consumer="dash-1", count=10)
    done = _consume(first, 40)
    crashed = _consume(RedisSource(redis_server.url, "loans", consumer="dash-1", count=10), 10, finish=False)
    # A restart of dash-1 first takes back what it read but never finished, then goes on.
    again = _consume(RedisSource(redis_server.url, "loans", consumer="dash-1", count=10), 60)
    assert crashed == list(range(40, 50)) and again[:10] == crashed
    assert sorted(done + again) == list(range(100))


def test_two_dashboards_in_one_group_share_the_stream(redis_server: RedisServer) -> None:
    _publish(redis_server, "tickets", 0, 60)
    a = _consume(RedisSource(redis_server.url, "tickets", consumer="a", count=7), 28)  # 4 reads of 7
    b = _consume(RedisSource(redis_server.url, "tickets", consumer="b", count=7), 32)  # the rest
    assert not set(a) & set(b) and sorted(a + b) == list(range(60))


def test_redis_going_away_is_reported_and_reading_resumes(redis_server: RedisServer) -> None:
    _publish(redis_server, "events", 0, 20)
    source = RedisSource(redis_server.url, "events", consumer="c", count=5, block_ms=100)
    stop = CancelToken()
    arrivals = source.arrivals(stop)
    seen: list[int] = []
    while len(seen) < 20:
        arrival = next(arrivals)
        seen += arrival.inputs["event"].to_list()
        assert arrival.done is not None
        arrival.done()
    redis_server.stop()
    def read_on() -> None:
        for arrival in arrivals:
            seen.extend(arrival.inputs["event"].to_list())
            assert arrival.done is not None
            arrival.done()
            if len(seen) >= 40:
                return

    reader = threading.Thread(target=read_on, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not any("not answering" in p for p in source.problems()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("not answering" in p for p in source.problems())
    redis_server.start()
    _publish(redis_server, "events", 20, 20)
    reader.join(40)
    assert seen == list(range(40))  # nothing lost, nothing twice
    assert not any("not answering" in p for p in source.problems())


def test_a_file_that_disappears_before_it_is_read_is_reported_and_the_rest_go_on(
        tmp_path: Path, german_credit_csv: Path, credit_columns: list,  # type: ignore[type-arg]
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(10)
    rows.write_csv(tmp_path / "kept.csv")
    source = FolderSource(registry.get("credit_risk"), tmp_path, credit_columns, poll_s=0.05)
    listed = source._complete

    def listing_then_gone() -> list[Path]:  # another process moves a file away between listing and reading
        return [tmp_path / "moved-away.csv", *listed()]

    monkeypatch.setattr(source, "_complete", listing_then_gone)
    stop = CancelToken()
    got = _take(source.arrivals(stop), until=10, stop=stop, timeout_s=10)
    assert sum(a.inputs.height for a in got) == 10
    assert "moved-away.csv disappeared before it was read; skipped" in source.problems()
