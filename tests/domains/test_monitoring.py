"""Live monitors keep bounded state: a curve over the whole stream in at most N points, and the
imaging worklist holding the latest studies only, however many arrive."""

from __future__ import annotations

import itertools

import polars as pl

from domains.monitoring import Curve, RecentRows


def test_a_curve_keeps_its_span_in_bounded_points() -> None:
    curve: Curve[tuple[int, int]] = Curve(max_points=100)
    for i in range(1_000_000):
        curve.add((i, i * 2))
    points = curve.points()
    assert len(points) <= 100 and points[0] == (0, 0)
    assert points[-1][0] > 990_000  # the latest stretch is still drawn
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and len({b - a for a, b in itertools.pairwise(xs)}) == 1  # evenly spaced


def test_a_short_curve_keeps_every_point() -> None:
    curve: Curve[int] = Curve(max_points=100)
    for i in range(60):
        curve.add(i)
    assert curve.points() == list(range(60))


def test_recent_rows_keep_the_latest_rows_and_build_one_frame_per_change() -> None:
    recent = RecentRows(keep=100, schema={"n": pl.Int64})
    assert recent.frame().schema == pl.Schema({"n": pl.Int64}) and len(recent) == 0
    for start in range(0, 1000, 64):
        recent.add(pl.DataFrame({"n": range(start, min(start + 64, 1000))}))
    frame = recent.frame()
    assert frame["n"].to_list() == list(range(900, 1000)) and len(recent) == 100
    assert recent.frame() is frame  # read again without a change: the same frame, not rebuilt
    recent.add(pl.DataFrame({"n": [1000]}))
    assert recent.frame()["n"].to_list() == list(range(901, 1001))


def test_the_imaging_worklist_holds_the_latest_studies_only(imaging_cnn_dir) -> None:  # type: ignore[no-untyped-def]
    import polars as pl
    import torch

    from domains import registry
    from domains.medical_imaging.live import KEEP

    domain = registry.get("medical_imaging")
    data = domain.load_data()
    predictor = registry.open_predictor(domain, imaging_cnn_dir, torch.device("cpu"))
    events = domain.stream(data).head(64)
    outputs = predictor.predict(events)
    monitor = domain.monitor(predictor, data)
    for n in range(2 * KEEP // 64 + 4):  # new studies each time, as new patients arrive
        monitor.update(events.with_columns(pl.format("{}-{}", pl.col("id"), pl.lit(n)).alias("id")), outputs)
    worklist = monitor.worklist()  # type: ignore[attr-defined]
    assert worklist.height == KEEP and worklist["study"].n_unique() == KEEP
    assert worklist["arrival"].min() >= (2 * KEEP // 64 + 4) * 64 - KEEP  # the oldest have left
    assert monitor.table().height == 50
