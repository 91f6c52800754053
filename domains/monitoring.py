"""State a live monitor keeps for hours: bounded however many events arrive, so a refresh
costs the same after a million events as after a thousand."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Generic, TypeVar

import polars as pl

T = TypeVar("T")


class Curve(Generic[T]):
    """The points of a line over the whole stream, at most ``max_points`` of them: when full,
    every other point is dropped and from then on only every other new one is kept, so the
    line keeps its shape from the first event to the latest at a resolution that halves."""

    def __init__(self, max_points: int = 600) -> None:
        self.max_points = max_points
        self._points: list[T] = []
        self._stride = 1
        self._offered = 0

    def add(self, point: T) -> None:
        self._offered += 1
        if (self._offered - 1) % self._stride:
            return
        self._points.append(point)
        if len(self._points) > self.max_points:
            self._points = self._points[::2]
            self._stride *= 2

    def points(self) -> list[T]:
        return list(self._points)

    def __len__(self) -> int:
        return len(self._points)


class RecentRows:
    """The latest ``keep`` rows of a stream, kept as the batches that brought them: adding a
    batch copies nothing, and the one frame a refresh reads (its charts, alerts and table all
    read it) is built once per change, not once per reader. Not locked: its monitor's lock
    guards it."""

    def __init__(self, keep: int, schema: Mapping[str, pl.DataType | type[pl.DataType]] | None = None) -> None:
        self.keep = keep
        self._schema = schema
        self._batches: deque[pl.DataFrame] = deque()
        self._rows = 0
        self._frame: pl.DataFrame | None = None

    def add(self, batch: pl.DataFrame) -> None:
        if batch.is_empty():
            return
        self._batches.append(batch)
        self._rows += batch.height
        while self._rows - self._batches[0].height >= self.keep:
            self._rows -= self._batches.popleft().height
        self._frame = None

    def frame(self) -> pl.DataFrame:
        if self._frame is None:
            self._frame = (pl.concat(list(self._batches), how="vertical_relaxed").tail(self.keep) if self._batches
                           else pl.DataFrame(schema=self._schema))
        return self._frame

    def __len__(self) -> int:
        return min(self._rows, self.keep)
