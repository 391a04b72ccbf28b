"""Sliding-window request limits, as Kite applies them per account and endpoint group."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class RateLimiter:
    """Counts accepted requests per key; a refused request does not use up the window."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._accepted: dict[tuple[str, float], deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limits: Iterable[tuple[int, float]]) -> bool:
        """Accept one request under every (count, window seconds) limit; a count of 0 is no limit."""
        limits = [(count, window) for count, window in limits if count > 0]
        now = self._monotonic()
        with self._lock:
            windows = []
            for count, window in limits:
                accepted = self._accepted.setdefault((key, window), deque())
                while accepted and accepted[0] <= now - window:
                    accepted.popleft()
                if len(accepted) >= count:
                    return False
                windows.append(accepted)
            for accepted in windows:
                accepted.append(now)
            return True
