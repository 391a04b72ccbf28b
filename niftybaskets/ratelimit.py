"""Sliding-window request limits: refused on the server side (`allow`), waited for on ours (`acquire`)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

Limits = Iterable[tuple[int, float]]  # (requests, window seconds); 0 requests means no limit


class RateLimiter:
    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._accepted: dict[tuple[str, float], deque[float]] = {}
        self._lock = threading.Lock()

    def _wait_needed(self, key: str, limits: list[tuple[int, float]], now: float) -> float:
        wait = 0.0
        for count, window in limits:
            accepted = self._accepted.setdefault((key, window), deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= count:
                wait = max(wait, accepted[-count] + window - now)
        return wait

    def _take(self, key: str, limits: list[tuple[int, float]], now: float) -> None:
        for _, window in limits:
            self._accepted[(key, window)].append(now)

    def allow(self, key: str, limits: Limits) -> bool:
        """Accept one request now if every limit has room; a refused request does not count."""
        limits = [(count, window) for count, window in limits if count > 0]
        with self._lock:
            now = self._monotonic()
            if self._wait_needed(key, limits, now) > 0:
                return False
            self._take(key, limits, now)
            return True

    def acquire(self, key: str, limits: Limits) -> None:
        """Wait until one request fits under every limit, then count it."""
        limits = [(count, window) for count, window in limits if count > 0]
        while True:
            with self._lock:
                now = self._monotonic()
                wait = self._wait_needed(key, limits, now)
                if wait <= 0:
                    self._take(key, limits, now)
                    return
            self._sleep(wait)
