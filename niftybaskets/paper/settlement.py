"""Sessions end: the market's prices roll, trades settle one step, sale money is released, DAY
orders expire, AMOs go to the market at the open, and the depository's authorisations lapse."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from niftybaskets.kite.wire import Status
from niftybaskets.paper.accounts import Accounts, Shares
from niftybaskets.paper.errors import input_error
from niftybaskets.paper.hours import TradingHours
from niftybaskets.paper.matching import Matching
from niftybaskets.paper.payloads import DayTotals
from niftybaskets.paper.storage import Storage


class Settlement:
    def __init__(self, storage: Storage, hours: TradingHours, accounts: Accounts, matching: Matching) -> None:
        self.storage = storage
        self.hours = hours
        self.accounts = accounts
        self.matching = matching

    def roll_market(self, now: datetime) -> date:
        """Once per new session, yesterday's last prices become the previous closes."""
        target = self.hours.business_day(now)
        if date.fromisoformat(self.storage.market_state()["price_date"]) < target:
            self.storage.close_the_day()
            self.storage.set_price_date(target.isoformat())
        return target

    def catch_up(self, user_id: str, now: datetime) -> None:
        """Bring the account's books to `now`, one session at a time, as if it had been watched throughout."""
        target = self.roll_market(now)
        day = self.accounts.business_day(user_id)
        while day < target:
            self._send_amos(user_id, day)
            following = self.hours.following_day(day)
            self._settle(user_id, day, following, now)
            day = following
        if now >= self.hours.session_open(day):
            self._send_amos(user_id, day)
        if self.hours.day_orders_expired(day, now):
            self._expire_day_orders(user_id, day, now)

    def _settle(self, user_id: str, day: date, following: date, now: datetime) -> None:
        """End of `day`: trades settle one step, sale money is released, DAY orders expire."""
        self._expire_day_orders(user_id, day, now)
        totals = self.accounts.day_totals(user_id, day)
        opening = self.accounts.require(user_id)["opening_balance"]
        holdings = {row["symbol"]: row for row in self.storage.holdings(user_id)}
        for symbol in sorted(set(holdings) | set(totals)):
            row = holdings.get(symbol)
            today = totals.get(symbol, DayTotals())
            shares = Shares.of(row, today)
            # What is left of settled and T1 shares is settled tomorrow; the day's kept buys become T1.
            remaining, bought = shares.settled + shares.t1, shares.bought_today
            average = row["average_price"] if row else 0.0
            if remaining + bought > 0 and remaining >= 0 and bought >= 0:
                average = (remaining * average + bought * today.buy_price) / (remaining + bought)
            self.storage.put_holding(user_id, symbol, remaining, bought, average)
        for today in totals.values():
            opening += today.sell_value - today.buy_value
        self.storage.clear_authorisations(user_id)
        self.storage.roll_account(user_id, opening, following.isoformat())

    def _expire_day_orders(self, user_id: str, day: date, now: datetime) -> None:
        closed = min(now, self.hours.session_close(day))
        for order in self.storage.orders_with_status(user_id, [Status.OPEN]):
            if date.fromisoformat(order["session_date"]) <= day:
                self.matching.finish(order, Status.CANCELLED, closed, "DAY order expired when the session closed.")

    def _send_amos(self, user_id: str, day: date) -> None:
        opened = self.hours.session_open(day)
        for order in self.storage.orders_with_status(user_id, [Status.AMO_REQ_RECEIVED]):
            if date.fromisoformat(order["session_date"]) <= day:
                self.matching.send_amo(order, opened)

    def authorise(self, user_id: str, quantities: Mapping[str, int]) -> None:
        """What the CDSL TPIN page does: authorise today's sale of these settled quantities."""
        for symbol, quantity in quantities.items():
            holding = self.storage.holding(user_id, symbol)
            if holding is None or holding["quantity"] <= 0:
                raise input_error(f"{user_id} holds no settled {symbol} to authorise.")
            if quantity > holding["quantity"]:
                raise input_error(
                    f"{user_id} holds {holding['quantity']} settled {symbol}; cannot authorise {quantity}."
                )
            self.storage.authorise(user_id, symbol, quantity)
