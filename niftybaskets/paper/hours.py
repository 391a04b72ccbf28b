"""NSE's calendar as the paper exchange applies it: whose books are current, and when orders reach the market."""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as clock_time

from niftybaskets.market import IST, MARKET_CLOSE, MARKET_OPEN, NseCalendar
from niftybaskets.paper.account_file import Rules

# Kite refreshes holdings (T1 moves, authorisations lapse) before 8 AM.
START_OF_DAY = clock_time(8, 0)


class TradingHours:
    def __init__(self, calendar: NseCalendar, rules: Rules) -> None:
        self.calendar = calendar
        self.rules = rules

    def business_day(self, now: datetime) -> date:
        """The session whose books are current: it starts at START_OF_DAY of a trading day."""
        return self.calendar.latest_day_started(now, START_OF_DAY)

    def market_open(self, now: datetime) -> bool:
        """Whether regular orders are taken and fill now (always, with the market_hours rule off)."""
        return not self.rules.market_hours or self.calendar.is_open(now)

    def takes_amo(self, now: datetime) -> bool:
        """AMOs are taken only outside market hours (at any time with the market_hours rule off)."""
        return not (self.rules.market_hours and self.calendar.is_open(now))

    def next_session(self, now: datetime) -> date:
        """The session an AMO placed now goes to the market in."""
        local = now.astimezone(IST)
        if self.calendar.is_trading_day(local.date()) and local.time() < MARKET_OPEN:
            return local.date()
        return self.calendar.next_trading_day(local.date())

    def following_day(self, day: date) -> date:
        return self.calendar.next_trading_day(day)

    def session_open(self, day: date) -> datetime:
        return self.calendar.session_open(day)

    def session_close(self, day: date) -> datetime:
        return datetime.combine(day, MARKET_CLOSE, IST)

    def day_orders_expired(self, day: date, now: datetime) -> bool:
        """Whether `day`'s session has closed by `now`, so its open DAY orders are over."""
        return self.rules.market_hours and now >= self.session_close(day)
