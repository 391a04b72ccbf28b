"""What a paper account owns and may spend in its current session, and the portfolio pages built from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from niftybaskets.kite.wire import OrderType, Side, Status
from niftybaskets.paper import payloads
from niftybaskets.paper.account_file import Rules
from niftybaskets.paper.errors import KiteError, input_error
from niftybaskets.paper.payloads import DayTotals
from niftybaskets.paper.storage import Storage

# Orders that still hold shares or money: placed and not yet final.
WAITING = (Status.OPEN, Status.AMO_REQ_RECEIVED)
# The old rule: 20% of the money from selling settled holdings is usable only after settlement.
BLOCKED_SHARE_OLD_RULE = 0.2


@dataclass(frozen=True)
class Shares:
    """One symbol's shares in an account's current session, and what of them may still be sold.

    A sale draws on settled shares first, then T1 shares (bought the session before), then the day's
    own buys. Counts go negative only with the holdings_check rule off (an oversold, short delivery).
    """

    settled: int  # settled shares not sold today
    t1: int  # T1 shares not sold today
    bought_today: int  # the day's buys not sold again
    in_open_sells: int = 0  # the unfilled rest of waiting sell orders
    authorised: int = 0  # settled shares the depository lets be sold today and not sold yet

    @classmethod
    def of(cls, holding: Mapping | None, today: DayTotals, in_open_sells: int = 0) -> Shares:
        return cls(
            settled=(holding["quantity"] if holding else 0) - today.sold_settled,
            t1=(holding["t1_quantity"] if holding else 0) - today.sold_t1,
            bought_today=today.buy_quantity - today.sold_from_today,
            in_open_sells=in_open_sells,
            authorised=(holding["authorised_quantity"] if holding else 0) - today.sold_settled,
        )

    @property
    def free(self) -> int:
        """How many shares a new sell order may take."""
        return self.settled + self.t1 + self.bought_today - self.in_open_sells

    def sources(self, quantity: int) -> tuple[int, int]:
        """Of a sale of `quantity` filled now, how many come from settled shares and how many from T1."""
        from_settled = min(quantity, max(self.settled, 0))
        return from_settled, min(quantity - from_settled, max(self.t1, 0))

    def unauthorised(self, quantity: int) -> int:
        """How many more settled shares a new sale of `quantity` needs authorised at the depository.

        Only settled shares are in the demat, so only they need the CDSL TPIN authorisation; waiting
        sells have first claim on them and on what is authorised.
        """
        from_settled = min(quantity, max(self.settled - self.in_open_sells, 0))
        authorised_left = max(self.authorised - min(self.in_open_sells, self.settled), 0)
        return max(from_settled - authorised_left, 0)


@dataclass(frozen=True)
class Funds:
    opening: float  # cash at the session's open
    net: float  # what can be spent now
    holding_sales: float  # the day's money from selling holdings
    blocked: float  # the part of the day's sale money usable only after settlement


class Accounts:
    def __init__(self, storage: Storage, rules: Rules) -> None:
        self.storage = storage
        self.rules = rules

    def require(self, user_id: str) -> Mapping:
        account = self.storage.account(user_id)
        if account is None:
            raise KiteError(404, "GeneralException", f"No paper account {user_id}.")
        return account

    def business_day(self, user_id: str) -> date:
        """The session the account's books are in (settlement moves it on)."""
        return date.fromisoformat(self.require(user_id)["business_date"])

    def day_totals(self, user_id: str, day: date, symbol: str | None = None) -> dict[str, DayTotals]:
        totals = {}
        for row in self.storage.day_totals(user_id, day.isoformat(), symbol):
            fields = dict(row)
            symbol_of_row = fields.pop("symbol")
            totals[symbol_of_row] = DayTotals(**fields)
        return totals

    def shares(self, user_id: str, symbol: str) -> Shares:
        today = self.day_totals(user_id, self.business_day(user_id), symbol).get(symbol, DayTotals())
        in_open_sells = sum(
            order["quantity"] - order["filled_quantity"]
            for order in self.storage.orders_with_status(user_id, WAITING)
            if order["symbol"] == symbol and order["transaction_type"] == Side.SELL
        )
        return Shares.of(self.storage.holding(user_id, symbol), today, in_open_sells)

    def funds(self, user_id: str) -> Funds:
        """Cash at the open, what can be spent now, and the day's sale money (all of it, and the held-back part).

        Waiting buys hold their money: a LIMIT buy at its price, a MARKET buy at the last price.
        """
        account = self.require(user_id)
        totals = self.day_totals(user_id, date.fromisoformat(account["business_date"])).values()
        held_back_share = 0.0 if self.rules.sale_proceeds == "same_day" else BLOCKED_SHARE_OLD_RULE
        blocked = sum(t.t1_sale_value + t.settled_sale_value * held_back_share for t in totals)
        waiting_buys = 0.0
        for order in self.storage.orders_with_status(user_id, WAITING):
            if order["transaction_type"] == Side.BUY:
                limit = order["price"] if order["order_type"] == OrderType.LIMIT else None
                unit = limit or self.storage.price(order["symbol"])["last_price"]
                waiting_buys += (order["quantity"] - order["filled_quantity"]) * unit
        opening = account["opening_balance"]
        bought = sum(t.buy_value for t in totals)
        sold = sum(t.sell_value for t in totals)
        return Funds(
            opening=opening,
            net=opening - bought - waiting_buys + sold - blocked,
            holding_sales=sum(t.settled_sale_value + t.t1_sale_value for t in totals),
            blocked=blocked,
        )

    # -- the portfolio pages ------------------------------------------------------------------

    def profile(self, user_id: str) -> dict:
        return payloads.profile(self.require(user_id))

    def margins(self, user_id: str, segment: str | None = None) -> dict:
        """Both segments, or the one named; commodity is there, disabled, as on an equity-only account."""
        funds = self.funds(user_id)
        equity = payloads.equity_margins(funds.opening, funds.net, funds.holding_sales, funds.blocked)
        segments = {"equity": equity, "commodity": payloads.disabled_segment(equity)}
        if segment is None:
            return segments
        if segment not in segments:
            raise input_error(f"Invalid segment `{segment}`: use equity or commodity.")
        return segments[segment]

    def holdings(self, user_id: str) -> list[dict]:
        day = self.business_day(user_id)
        totals = self.day_totals(user_id, day)
        return [
            payloads.holding(row, self.storage.price(row["symbol"]), totals.get(row["symbol"], DayTotals()), str(day))
            for row in self.storage.holdings(user_id)
        ]

    def positions(self, user_id: str) -> dict[str, list[dict]]:
        """Today's CNC trades: buys not yet in holdings, sells of holdings as negative quantities."""
        rows = [
            payloads.position(symbol, totals, self.storage.price(symbol))
            for symbol, totals in sorted(self.day_totals(user_id, self.business_day(user_id)).items())
        ]
        # CNC positions have no overnight part: the day book and the net book are the same.
        return {"net": rows, "day": [dict(row) for row in rows]}
