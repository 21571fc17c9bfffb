"""Simulated time: wall time multiplied by a time scale, continuous across restarts."""

from __future__ import annotations

import time
from collections.abc import Callable


class ScaledClock:
    """sim = sim_anchor + (wall - wall_anchor) * scale. Anchors come from the state store."""

    def __init__(
        self,
        sim_anchor: float,
        wall_anchor: float,
        scale: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.sim_anchor, self.wall_anchor, self.scale, self._wall = (
            sim_anchor,
            wall_anchor,
            scale,
            wall,
        )

    def __call__(self) -> float:
        return self.sim_anchor + (self._wall() - self.wall_anchor) * self.scale


class ManualClock:
    """A clock for tests: moves only when told."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
