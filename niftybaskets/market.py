"""NSE trading days and session hours, in Indian Standard Time.

Every time-dependent piece of the project takes a `Clock` (a callable returning an aware
datetime) so tests can freeze or move time; `system_clock` is the real one.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
MARKET_OPEN = time(9, 15)
MARKET_CLOSE = time(15, 30)
# Orders are sent from a minute before the open, and retried until the exchange takes them.
ORDER_WINDOW_START = time(9, 14)

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(IST)


@lru_cache(maxsize=1)
def _xbom_holidays() -> tuple[date, date, frozenset[date]]:
    """Weekdays on which BSE (and so NSE's equity segment) is shut, over the calendar's range."""
    import exchange_calendars
    import pandas as pd

    with warnings.catch_warnings():
        # exchange_calendars trips pandas deprecations of its own; nothing a user can act on.
        warnings.simplefilter("ignore")
        calendar = exchange_calendars.get_calendar("XBOM")
        first, last = calendar.first_session.date(), calendar.last_session.date()
        sessions = set(calendar.sessions.date)
    weekdays = pd.bdate_range(first, last).date
    return first, last, frozenset(day for day in weekdays if day not in sessions)


class NseCalendar:
    """Trading days from exchange_calendars' XBOM calendar plus holidays the user adds.

    XBOM only records holidays a year or so ahead; past its last date every weekday counts as a
    trading day (with a warning) unless it is listed in `extra_holidays`.
    """

    def __init__(self, extra_holidays: Iterable[date] = ()) -> None:
        self.known_from, self.known_until, holidays = _xbom_holidays()
        self._holidays = holidays | frozenset(extra_holidays)
        self._warned_years: set[int] = set()

    def is_trading_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self._holidays:
            return False
        if day > self.known_until and day.year not in self._warned_years:
            self._warned_years.add(day.year)
            log.warning(
                "NSE holidays are known only until %s; treating weekdays of %s as trading days. "
                "List that year's holidays in NSE_EXTRA_HOLIDAYS (comma-separated YYYY-MM-DD).",
                self.known_until,
                day.year,
            )
        return True

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        day -= timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def is_open(self, now: datetime) -> bool:
        """True during the normal session, 09:15 to 15:30 IST on a trading day."""
        local = now.astimezone(IST)
        return self.is_trading_day(local.date()) and MARKET_OPEN <= local.time() < MARKET_CLOSE

    def session_open(self, day: date) -> datetime:
        return datetime.combine(day, MARKET_OPEN, IST)

    def latest_day_started(self, now: datetime, start_of_day: time) -> date:
        """The latest trading day whose `start_of_day` (IST) is at or before `now`."""
        local = now.astimezone(IST)
        day = local.date()
        if self.is_trading_day(day) and local.time() >= start_of_day:
            return day
        return self.previous_trading_day(day)

    def order_window_start(self, now: datetime) -> datetime:
        """When to start sending orders: now, from 09:14 until the close of a trading day; otherwise
        09:14 IST of the next trading session."""
        local = now.astimezone(IST)
        day = local.date()
        if self.is_trading_day(day) and local.time() < MARKET_CLOSE:
            start = datetime.combine(day, ORDER_WINDOW_START, IST)
            return max(start, local)
        return datetime.combine(self.next_trading_day(day), ORDER_WINDOW_START, IST)


def wait_for_order_window(
    calendar: NseCalendar, clock: Clock, sleep: Callable[[float], None], say: Callable[[str], None]
) -> None:
    """Sleep until 09:14 IST of the next trading session (at once when orders can go now),
    saying how long is left: every 30 minutes while hours away, every minute in the last two hours."""
    start = calendar.order_window_start(clock())
    announced = None
    while (left := (start - clock()).total_seconds()) > 0:
        step = 1800 if left > 7200 else 60 if left > 120 else 10
        mark = int(left // step)
        if mark != announced:
            announced = mark
            say(f"Waiting for the market: {_duration(left)} until {start:%a %d %b %H:%M} IST.")
        sleep(min(left, step))


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock
