"""Orders from placing to their last status: Kite's RMS checks, fills against the last price within
the day's circuit band, cancels, and the order book and trades Kite shows of them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from niftybaskets.kite.wire import PRODUCT, OrderType, Side, Status, Variety
from niftybaskets.market import IST
from niftybaskets.paper import payloads
from niftybaskets.paper.account_file import Rules
from niftybaskets.paper.accounts import WAITING, Accounts
from niftybaskets.paper.errors import KiteError, input_error
from niftybaskets.paper.hours import TradingHours
from niftybaskets.paper.market_data import PriceBook
from niftybaskets.paper.orders import OrderRequest
from niftybaskets.paper.payloads import stamp
from niftybaskets.paper.storage import Storage

# What Kite's order history shows between a request and the order reaching the exchange.
ACCEPTED = (Status.PUT_ORDER_REQ_RECEIVED, Status.VALIDATION_PENDING, Status.OPEN_PENDING)


class Matching:
    def __init__(
        self, storage: Storage, rules: Rules, hours: TradingHours, prices: PriceBook, accounts: Accounts
    ) -> None:
        self.storage = storage
        self.rules = rules
        self.hours = hours
        self.prices = prices
        self.accounts = accounts

    # -- placing ------------------------------------------------------------------------------

    def place(self, user_id: str, request: OrderRequest, now: datetime) -> str:
        if request.variety == Variety.REGULAR and not self.hours.market_open(now):
            raise input_error(
                "Markets are closed right now. Use GTT for placing long standing orders instead. "
                "(NSE trades 09:15-15:30 IST on trading days; variety=amo queues an order for the next session.)"
            )
        if request.variety == Variety.AMO and not self.hours.takes_amo(now):
            raise input_error(
                "AMO orders are taken only outside market hours (09:15-15:30 IST); place a regular order."
            )
        price = self.prices.require([request.symbol])[request.symbol]
        if request.transaction_type == Side.SELL:
            self._check_holdings(user_id, request)
        else:
            self._check_funds(user_id, request, price)
        return self._create(user_id, request, price, now)

    def _check_holdings(self, user_id: str, request: OrderRequest) -> None:
        shares = self.accounts.shares(user_id, request.symbol)
        if self.rules.holdings_check and request.quantity > shares.free:
            raise KiteError(
                400,
                "HoldingException",
                f"Insufficient holdings: {max(shares.free, 0)} {request.symbol} can be sold (settled "
                f"{shares.settled}, T1 {shares.t1}, bought today {shares.bought_today}, in open sell orders "
                f"{shares.in_open_sells}), not {request.quantity}.",
            )
        unauthorised = shares.unauthorised(request.quantity)
        if self.rules.tpin and unauthorised:
            raise KiteError(
                428,
                "HoldingException",
                f"Holdings not authorised for sale: {request.symbol} needs {unauthorised} "
                "more shares authorised with CDSL (TPIN and OTP) today. Authorise them from Kite's Holdings "
                "page (Authorisation), or submit DDPI so sales need no daily authorisation.",
            )

    def _check_funds(self, user_id: str, request: OrderRequest, price: Mapping) -> None:
        if not self.rules.funds_check:
            return
        slip = self.rules.slippage_percent / 100
        unit = request.price if request.order_type == OrderType.LIMIT else price["last_price"] * (1 + slip)
        required = request.quantity * unit
        available = self.accounts.funds(user_id).net
        if round(required, 2) > round(available, 2):  # money is counted in paise
            raise KiteError(
                400,
                "MarginException",
                f"Insufficient funds. Required margin is {required:.2f} but available margin is {available:.2f}.",
            )

    def _create(self, user_id: str, request: OrderRequest, price: Mapping, now: datetime) -> str:
        number = self.storage.next_number()
        order_id = f"{now.astimezone(IST):%y%m%d}{number:09d}"
        amo = request.variety == Variety.AMO
        session_day = self.hours.next_session(now) if amo else self.hours.business_day(now)
        self.storage.insert_order(
            {
                "order_id": order_id,
                "user_id": user_id,
                "variety": request.variety,
                "symbol": request.symbol,
                "transaction_type": request.transaction_type,
                "order_type": request.order_type,
                "product": PRODUCT,
                "validity": request.validity,
                "quantity": request.quantity,
                "price": request.price,
                "market_protection": request.market_protection,
                "tag": request.tag,
                "status": Status.AMO_REQ_RECEIVED if amo else Status.OPEN,
                "exchange_order_id": f"1{order_id}",
                "placed_at": stamp(now),
                "updated_at": stamp(now),
                "session_date": session_day.isoformat(),
            }
        )
        for status in ACCEPTED:
            self._event(order_id, status, None, now)
        if amo:
            self._event(order_id, Status.AMO_REQ_RECEIVED, None, now)
            return order_id
        self._event(order_id, Status.OPEN, None, now)
        order = self.storage.order(user_id, order_id)
        refusal = self._outside_band(request.order_type, request.price, request.symbol, price)
        if refusal:
            self._stop(order, now, refusal)
        elif self.rules.fill_polls == 1:
            self.try_fill(order, now)
        return order_id

    # -- the order's life ---------------------------------------------------------------------

    def send_amo(self, order: Mapping, opened: datetime) -> None:
        """An AMO reaches the market at its session's open, even if nobody looked until later."""
        self.storage.update_order(order["order_id"], status=Status.OPEN, updated_at=stamp(opened))
        self._event(order["order_id"], Status.OPEN, None, opened)
        self.try_fill(self.storage.order(order["user_id"], order["order_id"]), opened, market_open=True)

    def cancel(self, user_id: str, variety: str, order_id: str, now: datetime) -> None:
        order = self.require_order(user_id, order_id)
        if order["variety"] != variety:
            raise input_error(
                f"Order {order_id} is a {order['variety']} order: cancel it with variety={order['variety']}."
            )
        if order["status"] not in WAITING:
            raise input_error(f"Order cannot be cancelled as it is {order['status']}.")
        self.finish(order, Status.CANCELLED, now, "Cancelled by the user.")

    def finish(self, order: Mapping, status: Status, now: datetime, message: str | None = None) -> None:
        left = order["quantity"] - order["filled_quantity"]
        self.storage.update_order(
            order["order_id"],
            status=status,
            status_message=message,
            cancelled_quantity=left if status == Status.CANCELLED else 0,
            updated_at=stamp(now),
        )
        self._event(order["order_id"], status, message, now)

    def _event(self, order_id: str, status: Status, message: str | None, now: datetime) -> None:
        self.storage.add_order_event(order_id, status, message, stamp(now))

    def _poll(self, orders: list[Mapping], now: datetime) -> None:
        """A look at the order book is when the market moves for open orders (fills spread over polls)."""
        for order in orders:
            self.storage.update_order(order["order_id"], polls=order["polls"] + 1)
            self.try_fill(self.storage.order(order["user_id"], order["order_id"]), now)

    def try_fill(self, order: Mapping, now: datetime, market_open: bool | None = None) -> None:
        """Fill what the market allows now: all of it, or one part when fills are spread over polls.

        Kite's RMS checks again when an order reaches the market: a LIMIT price outside the day's
        band, or a buy the funds no longer cover, is rejected (the unfilled rest of a part-filled
        order is cancelled).
        """
        if market_open is None:
            market_open = self.hours.market_open(now)
        if order["status"] != Status.OPEN or not market_open:
            return
        price = self.storage.price(order["symbol"])
        refusal = self._outside_band(order["order_type"], order["price"], order["symbol"], price)
        if refusal:
            self._stop(order, now, refusal)
            return
        fill = self._fill_price(order, price)
        if fill is None:
            return
        left = order["quantity"] - order["filled_quantity"]
        part = left if self.rules.fill_polls == 1 else min(left, math.ceil(order["quantity"] / self.rules.fill_polls))
        if order["transaction_type"] == Side.BUY and self.rules.funds_check:
            reserved = part * (order["price"] if order["order_type"] == OrderType.LIMIT else price["last_price"])
            available = self.accounts.funds(order["user_id"]).net + reserved
            if round(part * fill, 2) > round(available, 2):
                self._stop(
                    order,
                    now,
                    f"RMS: Insufficient funds. Required margin is {part * fill:.2f} "
                    f"but available margin is {available:.2f}.",
                )
                return
        self._record_trade(order, part, fill, now)

    def _fill_price(self, order: Mapping, price: Mapping) -> float | None:
        """Where the order fills now, or None when the market does not let it."""
        last = price["last_price"]
        lower, upper = self.prices.circuit(price)
        buying = order["transaction_type"] == Side.BUY
        if self.rules.circuit_limits and (last >= upper if buying else last <= lower):
            return None  # locked at the circuit: nobody on the other side
        slip = self.rules.slippage_percent / 100
        fill = last * (1 + slip) if buying else last * (1 - slip)
        if self.rules.circuit_limits:
            fill = min(max(fill, lower), upper)
        if order["order_type"] == OrderType.LIMIT:
            if (buying and last > order["price"]) or (not buying and last < order["price"]):
                return None
            fill = min(fill, order["price"]) if buying else max(fill, order["price"])
        elif order["market_protection"] > 0:
            bound = order["market_protection"] / 100
            fill = min(fill, last * (1 + bound)) if buying else max(fill, last * (1 - bound))
        return round(fill, 2)

    def _outside_band(self, order_type: str, limit: float, symbol: str, price: Mapping) -> str | None:
        if not self.rules.circuit_limits or order_type != OrderType.LIMIT:
            return None
        lower, upper = self.prices.circuit(price)
        if lower <= limit <= upper:
            return None
        return (
            f"RMS:Rule: Order price {limit:.2f} is outside the day's circuit limits "
            f"({lower:.2f} - {upper:.2f}) for NSE:{symbol}."
        )

    def _stop(self, order: Mapping, now: datetime, message: str) -> None:
        self.finish(order, Status.REJECTED if order["filled_quantity"] == 0 else Status.CANCELLED, now, message)

    def _record_trade(self, order: Mapping, quantity: int, price: float, now: datetime) -> None:
        user_id, symbol = order["user_id"], order["symbol"]
        from_settled = from_t1 = 0
        if order["transaction_type"] == Side.SELL:
            from_settled, from_t1 = self.accounts.shares(user_id, symbol).sources(quantity)
        self.storage.insert_trade(
            {
                "trade_id": f"{self.storage.next_number():08d}",
                "order_id": order["order_id"],
                "user_id": user_id,
                "symbol": symbol,
                "transaction_type": order["transaction_type"],
                "quantity": quantity,
                "price": price,
                "from_settled": from_settled,
                "from_t1": from_t1,
                "business_date": self.accounts.business_day(user_id).isoformat(),
                "at": stamp(now),
            }
        )
        filled = order["filled_quantity"] + quantity
        average = (order["filled_quantity"] * order["average_price"] + quantity * price) / filled
        status = Status.COMPLETE if filled == order["quantity"] else Status.OPEN
        self.storage.update_order(
            order["order_id"], filled_quantity=filled, average_price=average, status=status, updated_at=stamp(now)
        )
        self._event(order["order_id"], status, None, now)

    # -- the order book -----------------------------------------------------------------------

    def require_order(self, user_id: str, order_id: str) -> Mapping:
        order = self.storage.order(user_id, order_id)
        if order is None:
            raise input_error(f"Couldn't find that `order_id` ({order_id}).")
        return order

    def order_book(self, user_id: str, now: datetime) -> list[dict]:
        self._poll(self.storage.orders_with_status(user_id, [Status.OPEN]), now)
        day = self.accounts.business_day(user_id).isoformat()
        return [payloads.order(row) for row in self.storage.orders(user_id, day)]

    def order_history(self, user_id: str, order_id: str, now: datetime) -> list[dict]:
        order = self.require_order(user_id, order_id)
        if order["status"] == Status.OPEN:
            self._poll([order], now)
            order = self.storage.order(user_id, order_id)
        return [payloads.order(order, event) for event in self.storage.order_events(order_id)]

    def trades(self, user_id: str) -> list[dict]:
        day = self.accounts.business_day(user_id).isoformat()
        return [payloads.trade(row) for row in self.storage.trades(user_id, day)]

    def order_trades(self, user_id: str, order_id: str) -> list[dict]:
        self.require_order(user_id, order_id)
        return [payloads.trade(row) for row in self.storage.order_trades(order_id)]
