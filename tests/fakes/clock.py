"""Clocks that tests move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """An aware `now` that stays put until a test sets or advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class SteppingMonotonic:
    """A monotonic clock for rate limits: each reading moves `step` seconds on, unless frozen."""

    def __init__(self, step: float = 1.0) -> None:
        self.value = 0.0
        self.step = step

    def __call__(self) -> float:
        self.value += self.step
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
