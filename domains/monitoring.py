"""State a live monitor keeps for hours: bounded however many events arrive, so a refresh
costs the same after a million events as after a thousand."""

from __future__ import annotations

from typing import Generic, TypeVar

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
