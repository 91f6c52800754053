"""The prediction log (domains.traffic) on its own: rows written at least every second as
whole files, nothing lost on a graceful close, an unwritable folder refused, old hours pruned."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from domains.traffic import Answered, TrafficLog, TrafficLogError, decoded, parse_since, read_traffic, traffic_files


def _answered(request_id: str, rows: int = 2) -> Answered:
    inputs = pl.DataFrame({"age": list(range(rows)), "pixels": [b"\x00\x01"] * rows})
    outputs = pl.DataFrame({"p_bad": [0.1 * i for i in range(rows)], "decision": ["approve"] * rows})
    return Answered(request_id, "gbm", "k3y1d", 4.2, inputs, outputs)


def test_rows_are_written_within_a_second_as_whole_files(tmp_path: Path) -> None:
    log = TrafficLog("credit_risk", root=tmp_path, flush_s=0.2)
    log.append([_answered("a"), _answered("b", 3)])
    deadline = time.monotonic() + 5
    while not traffic_files("credit_risk", root=tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = read_traffic("credit_risk", root=tmp_path)
    assert rows["request_id"].to_list() == ["a", "a", "b", "b", "b"] and set(rows["key_id"]) == {"k3y1d"}
    assert decoded(rows, "inputs").columns == ["age"]  # raw bytes stay out of the log
    assert decoded(rows, "outputs")["p_bad"].to_list()[:2] == [0.0, 0.1]
    assert not list(tmp_path.rglob(".*.tmp"))  # written under a temporary name, then renamed
    log.close()


def test_a_graceful_close_writes_everything_queued(tmp_path: Path) -> None:
    log = TrafficLog("text_classification", root=tmp_path, flush_s=60)  # the timer never fires here
    log.append([_answered(f"r{i}", 1) for i in range(500)])
    log.close()
    assert read_traffic("text_classification", root=tmp_path).height == 500


def test_an_unwritable_folder_refuses_rows(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocked = tmp_path / "a-file"  # root may write anywhere: a folder that is a file cannot be made
        blocked.write_text("")
        root = blocked
    else:
        root = tmp_path / "ro"
        root.mkdir(mode=0o500)
    log = TrafficLog("credit_risk", root=root, flush_s=0.2)
    with pytest.raises(TrafficLogError, match="not writable"):
        log.append([_answered("a")])
    log.close()


def test_hours_past_the_retention_are_pruned(tmp_path: Path) -> None:
    old = tmp_path / "credit_risk" / (datetime.now(UTC) - timedelta(hours=5)).strftime("%Y%m%d-%H")
    old.mkdir(parents=True)
    (old / "part-x.parquet").write_bytes(b"")
    log = TrafficLog("credit_risk", root=tmp_path, flush_s=0.1, retention_h=2)
    log.append([_answered("new")])
    time.sleep(0.5)
    log.close()
    assert not old.exists() and read_traffic("credit_risk", root=tmp_path)["request_id"].to_list() == ["new"] * 2


def test_since_takes_spans_and_times() -> None:
    assert abs((datetime.now(UTC) - parse_since("2h")).total_seconds() - 7200) < 5
    assert parse_since("2026-12-02T10:00:00") == datetime(2026, 12, 2, 10, tzinfo=UTC)
    with pytest.raises(Exception, match="30m, 2h or 1d"):
        parse_since("yesterday")
