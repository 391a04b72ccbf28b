"""Daily prices as the ledger reads them: splits and bonuses taken out, unexplained jumps flagged.

NSE's history is the price actually traded that day: after a 1:2 split the price halves overnight.
A return therefore compares two prices on the same share basis: a later price is divided by the
price factor of every split or bonus that went ex in between (NSE lists them in its corporate
actions). Kite's history comes adjusted already and has no factors. A move no listed action explains
is kept as it is and flagged, so a reader can check it.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import date

# "Face Value Split (Sub-Division) - From Rs 10/- Per Share To Rs 2/- Per Share",
# "Consolidation of Shares From Re 1/- To Rs 10/-": the price moves with the face value.
FACE_VALUES = re.compile(r"\bR[se]\.?\s*(\d+(?:\.\d+)?)\s*/?-?.{0,30}?\bto\s+R[se]\.?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
# "Bonus 1:2": one new share for every two held, so the price becomes 2/3 of what it was.
BONUS = re.compile(r"\bbonus\s*(\d+)\s*:\s*(\d+)", re.IGNORECASE)
JUMP = 0.25  # a day's move beyond this, up or down, with no action listed, is flagged
BASE_MISMATCH = 0.02  # NSE's previous close differing this much from the last close is flagged


def price_factor(subject: str) -> float | None:
    """What a corporate action multiplies the share price by (0.5 for a 1:2 split, 2/3 for a 1:2
    bonus), or None when it does not change the number of shares (a dividend, a meeting)."""
    factor = 1.0
    text = subject.lower()
    if "split" in text or "sub-division" in text or "consolidation" in text:
        match = FACE_VALUES.search(subject)
        if match and float(match[1]) > 0 and float(match[2]) > 0:
            factor *= float(match[2]) / float(match[1])
    bonus = BONUS.search(subject)
    if bonus and not re.search(r"preference|ncrps|debenture", text):
        new, held = int(bonus[1]), int(bonus[2])
        if new > 0 and held > 0:
            factor *= held / (new + held)
    return None if factor == 1.0 else factor


@dataclass(frozen=True)
class Adjustment:
    ex_date: date
    factor: float
    subject: str


@dataclass(frozen=True)
class DayPrice:
    day: date
    open: float | None
    close: float | None
    previous_close: float | None = None  # NSE's, on the share basis of `day`


@dataclass
class PriceSeries:
    """One stock's or index's daily prices from one source, with the factors that join its days."""

    symbol: str
    source: str
    days: dict[date, DayPrice]
    adjustments: list[Adjustment] = field(default_factory=list)
    missing_reason: str = ""  # why there are no prices at all, when the source said so

    def factor_between(self, basis: date, day: date) -> float:
        """The product of the factors of actions that went ex after `basis`, up to and including `day`."""
        return math.prod(a.factor for a in self.adjustments if basis < a.ex_date <= day)

    def price(self, day: date, kind: str, basis: date) -> float | None:
        """The open or close of `day` in shares of `basis` (a day at or before it); None if missing."""
        row = self.days.get(day)
        value = getattr(row, kind) if row else None
        if value is None or value <= 0:
            return None
        return value / self.factor_between(basis, day)

    def jumps(self) -> list[tuple[date, str]]:
        """Days whose move no listed action explains, with what a reader should check."""
        flags = []
        ordered = sorted(self.days.values(), key=lambda row: row.day)
        for before, row in itertools.pairwise(ordered):
            if not before.close or not row.close:
                continue
            factor = self.factor_between(before.day, row.day)
            if factor == 1.0 and row.previous_close and abs(row.previous_close / before.close - 1) > BASE_MISMATCH:
                flags.append(
                    (
                        row.day,
                        f"{self.symbol}: NSE's previous close on {row.day} ({row.previous_close:g}) is not the "
                        f"close of {before.day} ({before.close:g}); a corporate action may be missing from NSE's list",
                    )
                )
                continue
            move = row.close / factor / before.close - 1
            if abs(move) > JUMP:
                flags.append(
                    (
                        row.day,
                        f"{self.symbol}: moved {move:+.1%} on {row.day} with no split or bonus listed; "
                        "check it is not a corporate action",
                    )
                )
        return flags
