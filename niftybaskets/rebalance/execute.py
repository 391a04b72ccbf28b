"""Trading a basket on Kite: wait for the market, send sells then buys, never twice, pass after pass.

Each pass values the account, plans (plan.py), sends the sells, waits until they are final,
values the account again so the buys spend only the cash Kite really shows, sends the buys and
waits for them. The loop stops when the deficit is at or under the target, after the last pass,
or when no order can improve it, and says why.

Every order carries a tag made of this run's code and a sequence number. When sending fails in a
way that may still have placed the order (a timeout, a 5xx, a 429), the order book is searched
for that tag before anything is sent again; a rejection is never retried. Open orders left by an
earlier run (tags starting with TAG_PREFIX) are waited for before planning.
"""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.kite.client import KiteClient, is_transient
from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.kite.sessions import login_command
from niftybaskets.market import IST, Clock, NseCalendar, wait_for_order_window
from niftybaskets.rebalance.account import PriceError, read_portfolio
from niftybaskets.rebalance.basket import Basket
from niftybaskets.rebalance.plan import Plan, PlannedOrder, plan_rebalance, total_deficit
from niftybaskets.research.nse import NseClient

TAG_PREFIX = "NB"
FINAL = ("COMPLETE", "REJECTED", "CANCELLED")
SEND_ATTEMPTS = 4
CLOSED_MARKET_RETRY_SECONDS = 3.0


class AbortRun(RuntimeError):
    """The run cannot go on (the session ended, Kite is unreachable); the message says what to do."""


@dataclass
class OrderRecord:
    pass_number: int
    tag: str
    symbol: str
    side: str
    quantity: int
    planned_price: float
    order_id: str | None = None
    status: str = "NOT SENT"
    filled: int = 0
    average_price: float = 0.0
    message: str = ""

    @property
    def waiting(self) -> bool:
        return self.order_id is not None and self.status not in FINAL


@dataclass
class PassRecord:
    number: int
    deficit_before: float
    expected_after: float
    orders: list[OrderRecord] = field(default_factory=list)
    deficit_after: float | None = None


@dataclass(frozen=True)
class RunOptions:
    live: bool = False
    wait: bool = True
    target_deficit: float = 0.0
    min_order_value: float = 0.0
    max_passes: int = 10
    fill_timeout: float = 120.0
    cash_buffer: float = 0.005  # buys leave this share of their value spare, for price moves
    open_grace: timedelta = timedelta(minutes=5)  # "markets are closed" is retried until open + grace


@dataclass
class RunResult:
    run_id: str
    user_id: str
    basket: Basket
    live: bool
    started_at: datetime
    first_plan: Plan | None = None
    start: Portfolio | None = None
    end: Portfolio | None = None
    total_value: float = 0.0
    deficit_before: float = 0.0
    deficit_after: float | None = None  # unknown when the run stopped before reading the account again
    passes: list[PassRecord] = field(default_factory=list)
    stop_reason: str = ""
    notes: list[str] = field(default_factory=list)
    exit_code: int = 0

    @property
    def orders(self) -> list[OrderRecord]:
        return [order for record in self.passes for order in record.orders]


def new_run_code() -> str:
    """Six letters and digits: with TAG_PREFIX and a 3-digit sequence, within Kite's 20-character tags."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def explain_rejection(error: kite_errors.KiteException) -> str:
    if error.code == 428:
        return (
            f"{error} The depository has not authorised selling these shares today: authorise them on "
            "Kite (Holdings > Authorisation, CDSL TPIN) or submit DDPI, then run again."
        )
    return str(error)


def is_market_closed(error: kite_errors.KiteException) -> bool:
    return isinstance(error, kite_errors.InputException) and "closed" in str(error).lower()


class Rebalancer:
    def __init__(
        self,
        connect: Callable[[], KiteClient],
        basket: Basket,
        options: RunOptions,
        *,
        user_id: str,
        clock: Clock,
        sleep: Callable[[float], None],
        calendar: NseCalendar,
        say: Callable[[str], None],
        nse: NseClient | None = None,
        on_order: Callable[[str, OrderRecord], None] = lambda run_id, record: None,
        run_code: str | None = None,
    ) -> None:
        self.connect = connect
        self.client = connect()
        self.basket = basket
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.calendar = calendar
        self.say = say
        self.nse = nse
        self.on_order = on_order
        self.run_code = run_code or new_run_code()
        self.result = RunResult(f"{TAG_PREFIX}{self.run_code}", user_id, basket, options.live, clock())
        self._sequence = 0
        self._frozen: set[str] = set()  # stocks whose orders were refused: not planned again this run
        # Stocks bought (sold) today by this or an earlier run: not sold (bought) again today.
        self._bought: set[str] = set()
        self._sold: set[str] = set()

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        result = self.result
        try:
            if self.options.live and self.options.wait:
                self._wait_for_market()
            if self.options.live and not self._earlier_orders_settled():
                return result
            self._passes()
        except AbortRun as error:
            result.stop_reason = str(error)
            result.exit_code = 1
        except kite_errors.TokenException:
            result.stop_reason = f"Kite ended the session. Log in again ({login_command(result.user_id)}) and rerun."
            result.exit_code = 1
        except PriceError as error:
            result.stop_reason = f"{error}. {self._what_was_sent()}"
            result.exit_code = 1
        except (kite_errors.KiteException, requests.RequestException) as error:
            result.stop_reason = (
                f"Kite did not answer ({type(error).__name__}: {error or 'no detail'}). {self._what_was_sent()}"
            )
            result.exit_code = 1
        if any(order.status in ("FAILED", "UNKNOWN") for order in result.orders):
            result.exit_code = 1
        sent = [order for order in result.orders if order.order_id or order.status != "NOT SENT"]
        if sent and not any(order.filled for order in sent):
            result.exit_code = 1  # it tried, and nothing at all was done
        return result

    def _what_was_sent(self) -> str:
        if not any(order.order_id for order in self.result.orders):
            return "Nothing was sent."
        return "Orders were sent before that: check Kite's order book before running again."

    def _read(self) -> Portfolio:
        return read_portfolio(self.client, self.basket.weights, self.nse, self.say)

    def _plan(self, portfolio: Portfolio, value: float) -> Plan:
        return plan_rebalance(
            portfolio,
            self.basket.weights,
            min_order_value=self.options.min_order_value,
            total_value=value,
            frozen=self._frozen,
            bought=self._bought,
            sold=self._sold,
            cash_buffer=self.options.cash_buffer,
        )

    def _passes(self) -> None:
        result, options = self.result, self.options
        portfolio = self._read()
        result.start = portfolio
        result.total_value = portfolio.total
        withheld = 0.0  # today's sale money Kite shows neither as cash nor as held back
        for number in range(1, options.max_passes + 1):
            value = portfolio.total + withheld
            plan = self._plan(portfolio, value)
            if number == 1:
                result.first_plan = plan
                result.deficit_before = plan.deficit_before
                result.notes.extend(plan.notes)
            if plan.deficit_before <= options.target_deficit:
                result.stop_reason = f"the deficit is at or under the target (₹{options.target_deficit:,.0f})"
                break
            if not plan.orders:
                result.stop_reason = self._why_nothing_helps(portfolio, withheld)
                break
            if not options.live:
                result.stop_reason = "dry run: nothing was sent"
                result.passes.append(PassRecord(number, plan.deficit_before, plan.deficit_after))
                break
            record = PassRecord(number, plan.deficit_before, plan.deficit_after)
            result.passes.append(record)
            self.say(
                f"Pass {number}: deficit ₹{plan.deficit_before:,.0f}; {len(plan.sells)} sells, "
                f"{len(plan.buys)} buys planned (₹{plan.deficit_after:,.0f} expected after)."
            )
            buys, cash = plan.buys, portfolio.cash
            if plan.sells:
                sent = [self._send(order, record) for order in plan.sells]
                self._await(sent)
                if any(order.waiting for order in sent):
                    result.stop_reason = self._still_open(sent)
                    break
                sold = self._read()
                withheld += self._withheld(portfolio, sold, sent)
                buys = self._plan(sold, sold.total + withheld).buys
                cash, portfolio = sold.cash, sold
            sent = self._send_buys(buys, cash, record)
            self._await(sent)
            portfolio = self._read()
            record.deficit_after = self._deficit(portfolio, withheld)
            if any(order.waiting for order in record.orders):
                result.stop_reason = self._still_open(record.orders)
                break
            if not any(order.filled for order in record.orders):
                result.stop_reason = "no order of this pass was filled: " + "; ".join(
                    f"{order.symbol} {order.status}: {order.message}" for order in record.orders
                )
                break
        else:
            result.stop_reason = f"stopped after {options.max_passes} passes"
        if not options.live:
            result.end = portfolio
            result.deficit_after = result.first_plan.deficit_after
            return
        result.end = self._read() if result.passes else portfolio  # as it stands after the last orders
        result.deficit_after = self._deficit(result.end, withheld)

    def _deficit(self, portfolio: Portfolio, withheld: float) -> float:
        value = portfolio.total + withheld
        targets = {symbol: weight * value for symbol, weight in self.basket.weights.items()}
        return total_deficit(portfolio.quantities, portfolio.prices, targets)

    def _why_nothing_helps(self, portfolio: Portfolio, withheld: float) -> str:
        reasons = ["no order can lower the deficit further"]
        waiting = portfolio.blocked + withheld
        if waiting > 1:
            reasons.append(f"₹{waiting:,.0f} of today's sale money is usable only from the next session")
        if self._frozen:
            reasons.append(f"orders were refused for {', '.join(sorted(self._frozen))}")
        if self.options.min_order_value > 0:
            reasons.append(f"smaller trades than ₹{self.options.min_order_value:,.0f} are not sent")
        reasons.append("what is left is less than a share per stock, or needs money the account does not have")
        return "; ".join(reasons)

    @staticmethod
    def _still_open(orders: list[OrderRecord]) -> str:
        waiting = ", ".join(f"{o.symbol} ({o.order_id})" for o in orders if o.waiting)
        return (
            f"orders still open after the wait: {waiting}; stopping so nothing is sent twice "
            "(a stock at its circuit limit, or an illiquid one). Check them on Kite."
        )

    @staticmethod
    def _withheld(before: Portfolio, after: Portfolio, sells: list[OrderRecord]) -> float:
        """Sale money Kite neither credited as cash nor shows as held back (utilised.delivery)."""
        proceeds = sum(order.filled * order.average_price for order in sells)
        shown = (after.cash - before.cash) + (after.blocked - before.blocked)
        missing = proceeds - shown
        return missing if missing > 1 else 0.0

    # -- waiting for the market -----------------------------------------------------------------

    def _wait_for_market(self) -> None:
        wait_for_order_window(self.calendar, self.clock, self.sleep, self.say)
        try:
            self.client = self.connect()  # the morning's login may have replaced the token
            self.client.profile()
        except kite_errors.TokenException:
            raise AbortRun(
                f"The Kite session expired while waiting for the market. Log in "
                f"({login_command(self.result.user_id)}) and run again."
            ) from None

    def _earlier_orders_settled(self) -> bool:
        """Wait for open orders an earlier run left today; remember which way it traded each stock."""
        earlier = []
        for order in self.client.orders():
            if not (order.get("tag") or "").startswith(TAG_PREFIX):
                continue
            if order["filled_quantity"]:
                (self._bought if order["transaction_type"] == "BUY" else self._sold).add(order["tradingsymbol"])
            if order["status"] not in FINAL:
                earlier.append(
                    OrderRecord(
                        0,
                        order["tag"],
                        order["tradingsymbol"],
                        order["transaction_type"],
                        order["quantity"],
                        0.0,
                        order_id=order["order_id"],
                        status=order["status"],
                    )
                )
        if not earlier:
            return True
        self.say(f"{len(earlier)} orders of an earlier run are still open; waiting for them before planning.")
        self._await(earlier)
        if any(order.waiting for order in earlier):
            self.result.stop_reason = "an earlier run's " + self._still_open(earlier)
            self.result.exit_code = 1
            return False
        return True

    # -- orders ---------------------------------------------------------------------------------

    def _send_buys(self, buys: list[PlannedOrder], cash: float, record: PassRecord) -> list[OrderRecord]:
        """Buys, largest deficit first, each cut to what the cash left can pay with a margin."""
        sent = []
        for order in buys:
            unit = order.price * (1 + self.options.cash_buffer)
            quantity = min(order.quantity, math.floor(cash / unit))
            if quantity <= 0 or quantity * order.price < self.options.min_order_value:
                skipped = OrderRecord(record.number, "", order.symbol, "BUY", order.quantity, order.price)
                skipped.message = f"not sent: ₹{cash:,.0f} left is not enough for it"
                record.orders.append(skipped)
                continue
            cash -= quantity * unit
            sent.append(self._send(PlannedOrder(order.symbol, "BUY", quantity, order.price, order.deficit), record))
        return sent

    def _send(self, order: PlannedOrder, record: PassRecord) -> OrderRecord:
        self._sequence += 1
        sent = OrderRecord(
            record.number,
            f"{self.result.run_id}{self._sequence:03d}",
            order.symbol,
            order.side,
            order.quantity,
            order.price,
        )
        record.orders.append(sent)
        self.on_order(self.result.run_id, sent)
        failures = 0
        while True:
            try:
                sent.order_id = self.client.place_order(
                    variety="regular",
                    exchange="NSE",
                    tradingsymbol=order.symbol,
                    transaction_type=order.side,
                    quantity=order.quantity,
                    product="CNC",
                    order_type="MARKET",
                    market_protection=-1,
                    validity="DAY",
                    tag=sent.tag,
                )
                sent.status = "SENT"
                break
            except kite_errors.TokenException:
                raise
            except Exception as error:  # sorted below: wait for the open, look up, or a refusal
                if isinstance(error, kite_errors.KiteException) and is_market_closed(error):
                    if self._opening():
                        self.sleep(CLOSED_MARKET_RETRY_SECONDS)
                        continue
                    sent.status, sent.message = "REJECTED", str(error)
                    self.on_order(self.result.run_id, sent)
                    raise AbortRun(
                        "The market is closed (NSE trades 09:15-15:30 IST on trading days): run without --no-wait "
                        "to wait for the open, or during market hours."
                    ) from None
                if not is_transient(error):
                    if not isinstance(error, kite_errors.KiteException):
                        raise
                    sent.status = "REJECTED"
                    sent.message = explain_rejection(error)
                    self._frozen.add(order.symbol)
                    break
                failures += 1
                self.sleep(2.0 ** (failures - 1))
                try:
                    found = self._find(sent.tag)
                except (kite_errors.KiteException, requests.RequestException) as lookup:
                    sent.status = "UNKNOWN"
                    sent.message = f"sending failed ({type(error).__name__}) and the order book did not answer"
                    self.on_order(self.result.run_id, sent)
                    raise AbortRun(
                        f"Sending {order.side} {order.quantity} {order.symbol} failed and Kite's order book did not "
                        f"answer ({type(lookup).__name__}); the order may have been placed. Look for tag {sent.tag} "
                        "in Kite's order book before running again."
                    ) from None
                if found is not None:
                    sent.order_id, sent.status = found["order_id"], "SENT"
                    sent.message = f"the answer was lost ({type(error).__name__}); found in the order book"
                    break
                if failures >= SEND_ATTEMPTS:
                    sent.status = "FAILED"
                    sent.message = f"{type(error).__name__}: {error}; not in the order book after {failures} tries"
                    self._frozen.add(order.symbol)
                    break
        self.on_order(self.result.run_id, sent)
        return sent

    def _opening(self) -> bool:
        """Between 09:14 and a few minutes after the open of a trading day: "closed" will pass soon."""
        now = self.clock().astimezone(IST)
        if not self.calendar.is_trading_day(now.date()):
            return False
        opened = self.calendar.session_open(now.date())
        return opened - timedelta(minutes=1) <= now < opened + self.options.open_grace

    def _find(self, tag: str) -> dict | None:
        return next((order for order in self.client.orders() if order.get("tag") == tag), None)

    def _await(self, orders: list[OrderRecord]) -> None:
        """Poll the order book, with growing pauses, until the orders are final or time runs out."""
        waited, pause = 0.0, 0.25
        while any(order.waiting for order in orders):
            book = {order["order_id"]: order for order in self.client.orders()}
            for sent in orders:
                entry = book.get(sent.order_id) if sent.waiting else None
                if entry is None:
                    continue
                sent.status = entry["status"]
                sent.filled = entry["filled_quantity"]
                sent.average_price = entry["average_price"]
                if sent.filled:
                    (self._bought if sent.side == "BUY" else self._sold).add(sent.symbol)
                if entry.get("status_message"):
                    sent.message = entry["status_message"]
                if sent.status in FINAL:
                    if sent.status != "COMPLETE":
                        self._frozen.add(sent.symbol)
                    self.on_order(self.result.run_id, sent)
            if not any(order.waiting for order in orders) or waited >= self.options.fill_timeout:
                return
            self.sleep(pause)
            waited += pause
            pause = min(pause * 2, 3.0)
