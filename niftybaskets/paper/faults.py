"""Injected faults: the next N calls of an endpoint fail, stall, or succeed and lose their answer."""

from __future__ import annotations

import threading

from niftybaskets.paper.account_file import Fault


class FaultQueue:
    def __init__(self, faults: list[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append({"fault": fault, "left": fault.times})

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [{**entry["fault"].model_dump(), "times": entry["left"]} for entry in self._pending]

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault armed for this request, counting one use of it."""
        endpoint = f"{method.upper()} {path}"
        with self._lock:
            for entry in self._pending:
                if entry["fault"].endpoint == endpoint:
                    entry["left"] -= 1
                    if entry["left"] == 0:
                        self._pending.remove(entry)
                    return entry["fault"]
        return None
