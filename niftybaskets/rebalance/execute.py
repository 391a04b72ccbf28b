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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.baskets import Basket
from niftybaskets.errors import NiftyError
from niftybaskets.kite.client import KiteClient, is_transient
from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.kite.sessions import login_command
from niftybaskets.kite.wire import EXCHANGE, FINAL_STATUSES, PRODUCT, VALIDITY, OrderType, Side, Status, Variety
from niftybaskets.market import IST, Clock, NseCalendar, wait_for_order_window
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.rebalance.account import PriceError, read_portfolio
from niftybaskets.rebalance.plan import Plan, PlannedOrder, managed_targets, plan_rebalance, total_deficit

TAG_PREFIX = "NB"
SEND_ATTEMPTS = 4
CLOSED_MARKET_RETRY_SECONDS = 3.0


class AbortRun(NiftyError):
    """The run cannot go on (the session ended, Kite is unreachable); the message says what to do."""


def sentence(text: str) -> str:
    """`text` ending in exactly one full stop (or its own ! or ?): messages are joined from parts
    that may or may not end with one."""
    text = text.rstrip()
    while text.endswith(".."):
        text = text[:-1]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def sessions_until_next_basket(calendar: NseCalendar, created: datetime | None, today: date, days: int = 7) -> int:
    """The sessions from `today` until the basket published at `created` is followed by the next, a
    week later (a basket of unknown date: a week's five); at least this one."""
    if created is None:
        return 5
    end = (created + timedelta(days=days)).astimezone(IST).date()
    sessions, day = 0, today
    while day < end:
        sessions += calendar.is_trading_day(day)
        day += timedelta(days=1)
    return max(sessions, 1)


def cut(order: PlannedOrder, quantity: int) -> PlannedOrder:
    """`order` for fewer shares; its estimated charges in proportion."""
    return replace(order, quantity=quantity, charges=order.charges * quantity / order.quantity)


def sentences(*parts: str) -> str:
    return " ".join(sentence(part) for part in parts if part and part.strip())


class RunMode(StrEnum):
    DRY_RUN = "dry-run"  # plan and report; nothing is sent
    LIVE = "live"  # real orders, to Zerodha
    PAPER = "paper"  # real orders, to a paper exchange

    @property
    def sends_orders(self) -> bool:
        return self is not RunMode.DRY_RUN


class Sending(StrEnum):
    """An order's state before Kite reports a status of its own (Status)."""

    NOT_SENT = "NOT SENT"
    SENT = "SENT"  # placed; Kite has not said more yet
    FAILED = "FAILED"  # Kite answered with an error that is not a refusal
    UNKNOWN = "UNKNOWN"  # no answer: it may have been placed


# What became of an order, in the words every report uses, by its status.
OUTCOMES = {
    Status.COMPLETE: "filled",
    Sending.NOT_SENT: "not sent",
    Status.REJECTED: "refused",
    Sending.FAILED: "failed",
    Sending.UNKNOWN: "fate unknown",
    Status.CANCELLED: "cancelled",
}


@dataclass
class OrderRecord:
    pass_number: int
    tag: str
    symbol: str
    side: Side
    quantity: int
    planned_price: float
    order_id: str | None = None
    status: str = Sending.NOT_SENT  # a Sending state, or Kite's Status once Kite reports it
    charges: float = 0.0  # estimated, for the planned quantity
    filled: int = 0
    average_price: float = 0.0
    message: str = ""

    @property
    def waiting(self) -> bool:
        return self.order_id is not None and self.status not in FINAL_STATUSES

    @property
    def outcome(self) -> str:
        """filled, partly filled, sent (placed, not final when last seen), refused, failed, cancelled,
        fate unknown (it may have been placed) or not sent; `message` says why when it is not filled."""
        if self.filled and self.filled < self.quantity:
            return "partly filled"
        return OUTCOMES.get(self.status, "sent")


@dataclass
class PassRecord:
    number: int
    deficit_before: float
    expected_after: float
    orders: list[OrderRecord] = field(default_factory=list)
    deficit_after: float | None = None


@dataclass(frozen=True)
class RunOptions:
    mode: RunMode = RunMode.DRY_RUN
    wait: bool = True
    target_deficit: float = 0.0
    min_order_value: float = 0.0
    max_passes: int = 10
    cost_weight: float = 0.0  # rupees of deficit a rupee of charges is worth (plan.py)
    drift_band: float = 0.0  # basket stocks within this share of their target are left alone
    sessions_left: int = 1  # sessions until the next basket
    capital: float | None = None  # manage at most this much of the account
    keep: frozenset[str] = frozenset()  # holdings left untouched and outside the total
    fill_timeout: float = 120.0
    cash_buffer: float = 0.005  # buys leave this share of their value spare, for price moves
    open_grace: timedelta = timedelta(minutes=5)  # "markets are closed" is retried until open + grace


@dataclass
class RunResult:
    run_id: str
    user_id: str
    basket: Basket
    mode: RunMode
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
    failed: bool = False  # stopped short, or an order failed or may have been placed unseen

    @property
    def sends_orders(self) -> bool:
        return self.mode.sends_orders

    @property
    def orders(self) -> list[OrderRecord]:
        return [order for record in self.passes for order in record.orders]


def new_run_code() -> str:
    """Six letters and digits: with TAG_PREFIX and a 3-digit sequence, within Kite's 20-character tags."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def explain_rejection(error: kite_errors.KiteException) -> str:
    if error.code == 428:
        return sentences(
            str(error),
            "The depository has not authorised selling these shares today: authorise them on "
            "Kite (Holdings > Authorisation, CDSL TPIN) or submit DDPI, then run again",
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
        market: MarketData | None = None,
        on_order: Callable[[str, OrderRecord], None] = lambda run_id, record: None,
        run_code: str | None = None,
        confirmed: list[tuple[str, str, int]] | None = None,
    ) -> None:
        self.connect = connect
        self.client = connect()
        self.basket = basket
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.calendar = calendar
        self.say = say
        self.market = market
        self.on_order = on_order
        self.run_code = run_code or new_run_code()
        self.result = RunResult(f"{TAG_PREFIX}{self.run_code}", user_id, basket, options.mode, clock())
        self._sequence = 0
        # Stocks whose orders were refused, failed or were cancelled (by that outcome): not planned again.
        self._frozen: dict[str, str] = {}
        # The orders of the pass under way not sent yet: reported as not sent when the run stops first.
        self._pending: tuple[PassRecord, list[PlannedOrder]] | None = None
        # (symbol, side, quantity) of the preview the user confirmed, when there was one; what may still be
        # sent of each: a confirmed run never sends a stock, side or quantity beyond what was confirmed.
        self.confirmed = confirmed
        self._allowed: dict[tuple[str, str], int] | None = None
        if confirmed is not None:
            self._allowed = {}
            for symbol, side, quantity in confirmed:
                self._allowed[(symbol, side)] = self._allowed.get((symbol, side), 0) + quantity
        # Stocks bought (sold) today by this or an earlier run: not sold (bought) again today.
        self._bought: set[str] = set()
        self._sold: set[str] = set()

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        result = self.result
        try:
            if self.options.mode.sends_orders and self.options.wait:
                self._wait_for_market()
            # A dry run (and the preview before a live run) learns today's orders as the live run does,
            # so that it plans from the same state under the same rules.
            if not self._earlier_orders_settled():
                return result
            self._passes()
        except AbortRun as error:
            result.stop_reason = str(error)
            result.failed = True
        except kite_errors.TokenException:
            result.stop_reason = f"Kite ended the session. Log in again ({login_command(result.user_id)}) and rerun."
            result.failed = True
        except PriceError as error:
            result.stop_reason = sentences(str(error), self._what_was_sent())
            result.failed = True
        except (kite_errors.KiteException, requests.RequestException) as error:
            result.stop_reason = sentences(
                f"Kite did not answer ({type(error).__name__}: {error or 'no detail'})", self._what_was_sent()
            )
            result.failed = True
        self._account_for_every_order()
        if any(order.status in (Sending.FAILED, Sending.UNKNOWN) for order in result.orders):
            result.failed = True
        sent = [order for order in result.orders if order.order_id or order.status != Sending.NOT_SENT]
        if sent and not any(order.filled for order in sent):
            result.failed = True  # it tried, and nothing at all was done
        return result

    def _account_for_every_order(self) -> None:
        """After the run: what it planned and never sent is reported as not sent, saying why, and an
        order not final when last seen says so."""
        if self._pending is not None:
            record, unsent = self._pending
            for order in unsent:
                record.orders.append(
                    OrderRecord(
                        record.number,
                        "",
                        order.symbol,
                        order.side,
                        order.quantity,
                        order.price,
                        message="the run stopped before sending it",
                    )
                )
            self._pending = None
        for order in self.result.orders:
            if order.waiting and not order.message:
                seen = "" if order.status == Sending.SENT else f", {order.status.lower()} when last seen"
                order.message = (
                    f"placed (order {order.order_id}){seen}; the run stopped before it saw the order final: "
                    "check Kite's order book"
                )

    def _take(self, order: PlannedOrder) -> None:
        """`order` is being sent (or skipped with its reason): no longer pending."""
        if self._pending is not None:
            record, unsent = self._pending
            self._pending = (record, [planned for planned in unsent if planned is not order])

    def _what_was_sent(self) -> str:
        if not any(order.order_id for order in self.result.orders):
            return "Nothing was sent."
        return "Orders were sent before that: check Kite's order book before running again."

    def _read(self) -> Portfolio:
        return read_portfolio(self.client, self.basket.weights, self.market, self.say)

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
            cost_weight=self.options.cost_weight,
            sessions_left=self.options.sessions_left,
            drift_band=self.options.drift_band,
            capital=self.options.capital,
            keep=self.options.keep,
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
                result.total_value = plan.total_value  # what the basket manages: without kept holdings
                result.deficit_before = plan.deficit_before
                result.notes.extend(plan.notes)
                self._compare_with_preview(plan)
            if plan.deficit_before <= options.target_deficit:
                result.stop_reason = f"the deficit is at or under the target (₹{options.target_deficit:,.0f})"
                break
            if not plan.orders:
                result.stop_reason = self._why_nothing_helps(portfolio, withheld, plan)
                break
            if not options.mode.sends_orders:
                result.stop_reason = "dry run: nothing was sent"
                record = PassRecord(number, plan.deficit_before, plan.deficit_after)
                record.orders = [
                    OrderRecord(number, "", o.symbol, o.side, o.quantity, o.price, charges=o.charges, message="dry run")
                    for o in plan.orders
                ]
                result.passes.append(record)
                break
            record = PassRecord(number, plan.deficit_before, plan.deficit_after)
            result.passes.append(record)
            self._pending = (record, list(plan.orders))
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
                self._replanned(record, plan.buys, buys)
                cash, portfolio = sold.cash, sold
            sent = self._send_buys(buys, cash, record)
            self._pending = None  # every order of the pass is sent or has its reason
            self._await(sent)
            portfolio = self._read()
            record.deficit_after = self._deficit(portfolio, withheld)
            if any(order.waiting for order in record.orders):
                result.stop_reason = self._still_open(record.orders)
                break
            if not any(order.filled for order in record.orders):
                result.stop_reason = "no order of this pass was filled: " + "; ".join(
                    f"{order.symbol} {order.side} {order.quantity} {order.outcome}: {order.message.rstrip('.')}"
                    for order in record.orders
                )
                break
        else:
            result.stop_reason = f"stopped after {options.max_passes} passes"
        if not options.mode.sends_orders:
            result.end = portfolio
            plan = result.first_plan
            result.deficit_after = plan.deficit_after if result.passes else plan.deficit_before
            return
        result.end = self._read() if result.passes else portfolio  # as it stands after the last orders
        result.deficit_after = self._deficit(result.end, withheld)

    def _replanned(self, record: PassRecord, planned: list[PlannedOrder], buys: list[PlannedOrder]) -> None:
        """The buys planned again after the sells, from the cash Kite then shows: a buy planned before
        that is no longer wanted is reported as not sent, saying why."""
        wanted = {order.symbol for order in buys}
        for order in planned:
            if order.symbol not in wanted:
                record.orders.append(
                    OrderRecord(
                        record.number,
                        "",
                        order.symbol,
                        Side.BUY,
                        order.quantity,
                        order.price,
                        message="no longer planned after the sells (planned again from the account and cash then)",
                    )
                )
        self._pending = (record, list(buys))

    def _compare_with_preview(self, plan: Plan) -> None:
        """A live run after a confirmed preview: say so when the account or prices changed in between."""
        if self.confirmed is None or not self.options.mode.sends_orders:
            return
        now = [(order.symbol, order.side, order.quantity) for order in plan.orders]
        if sorted(now) == sorted(self.confirmed):
            return

        def listed(orders: list[tuple[str, str, int]]) -> str:
            return ", ".join(f"{symbol} {side} {quantity}" for symbol, side, quantity in sorted(orders)) or "nothing"

        note = (
            "the account or prices changed after the preview you confirmed, so the plan changed: "
            f"previewed {listed(self.confirmed)}; planned now {listed(now)}"
        )
        self.say(f"Note: {note}.")
        self.result.notes.append(note)

    def _deficit(self, portfolio: Portfolio, withheld: float) -> float:
        options = self.options
        _, targets, managed = managed_targets(
            portfolio, self.basket.weights, portfolio.total + withheld, options.capital, options.keep
        )
        return total_deficit(managed.quantities, managed.prices, targets)

    def _why_nothing_helps(self, portfolio: Portfolio, withheld: float, plan: Plan) -> str:
        reasons = ["no order can lower the deficit further"]
        if plan.skipped:
            reasons = [
                f"nothing to do: the {len(plan.skipped)} trades that would lower the deficit are left out, within "
                "the drift band or costing more in charges than they remove (listed)"
            ]
        waiting = portfolio.blocked + withheld
        if waiting > 1:
            reasons.append(f"₹{waiting:,.0f} of today's sale money is usable only from the next session")
        for outcome, phrase in (
            ("refused", "orders were refused for"),
            ("failed", "orders failed for"),
            ("cancelled", "orders were cancelled for"),
        ):
            symbols = sorted(symbol for symbol, why in self._frozen.items() if why == outcome)
            if symbols:
                reasons.append(f"{phrase} {', '.join(symbols)}")
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
                (self._bought if order["transaction_type"] == Side.BUY else self._sold).add(order["tradingsymbol"])
            if order["status"] not in FINAL_STATUSES:
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
            self.result.failed = True
            return False
        return True

    # -- orders ---------------------------------------------------------------------------------

    def _send_buys(self, buys: list[PlannedOrder], cash: float, record: PassRecord) -> list[OrderRecord]:
        """Buys, largest deficit first, each cut to what the cash left can pay with a margin."""
        sent = []
        for order in buys:
            self._take(order)
            unit = order.price * (1 + self.options.cash_buffer)
            quantity = min(order.quantity, math.floor(cash / unit))
            if quantity <= 0 or quantity * order.price < self.options.min_order_value:
                skipped = OrderRecord(record.number, "", order.symbol, Side.BUY, order.quantity, order.price)
                skipped.message = f"₹{cash:,.0f} left is not enough for it"
                record.orders.append(skipped)
                continue
            cash -= quantity * unit
            sent.append(self._send(cut(order, quantity), record))
        return sent

    def _send(self, order: PlannedOrder, record: PassRecord) -> OrderRecord:
        self._take(order)
        if self._allowed is not None:
            left = self._allowed.get((order.symbol, order.side), 0)
            if left <= 0:
                refused = OrderRecord(record.number, "", order.symbol, order.side, order.quantity, order.price)
                refused.message = "beyond the preview you confirmed (run again to see and confirm the new plan)"
                record.orders.append(refused)
                return refused
            order = cut(order, min(order.quantity, left))
            self._allowed[(order.symbol, order.side)] = left - order.quantity
        self._sequence += 1
        sent = OrderRecord(
            record.number,
            f"{self.result.run_id}{self._sequence:03d}",
            order.symbol,
            order.side,
            order.quantity,
            order.price,
            charges=order.charges,
        )
        record.orders.append(sent)
        self.on_order(self.result.run_id, sent)
        failures = 0
        while True:
            try:
                sent.order_id = self.client.place_order(
                    variety=Variety.REGULAR,
                    exchange=EXCHANGE,
                    tradingsymbol=order.symbol,
                    transaction_type=order.side,
                    quantity=order.quantity,
                    product=PRODUCT,
                    order_type=OrderType.MARKET,
                    market_protection=-1,
                    validity=VALIDITY,
                    tag=sent.tag,
                )
                sent.status = Sending.SENT
                break
            except kite_errors.TokenException:
                sent.message = "the session ended before it was sent"
                raise
            except Exception as error:  # sorted below: wait for the open, look up, or a refusal
                if isinstance(error, kite_errors.KiteException) and is_market_closed(error):
                    if self._opening():
                        self.sleep(CLOSED_MARKET_RETRY_SECONDS)
                        continue
                    sent.status, sent.message = Status.REJECTED, str(error)
                    self.on_order(self.result.run_id, sent)
                    raise AbortRun(
                        "The market is closed (NSE trades 09:15-15:30 IST on trading days): run without --no-wait "
                        "to wait for the open, or during market hours."
                    ) from None
                if not is_transient(error):
                    if not isinstance(error, kite_errors.KiteException):
                        raise
                    sent.status = Status.REJECTED
                    sent.message = explain_rejection(error)
                    self._frozen[order.symbol] = "refused"
                    break
                failures += 1
                self.sleep(2.0 ** (failures - 1))
                try:
                    found = self._find(sent.tag)
                except kite_errors.TokenException:
                    sent.status = Sending.UNKNOWN
                    sent.message = (
                        f"sending failed ({type(error).__name__}) and the session ended before the order book could "
                        f"be checked: it may have been placed (tag {sent.tag})"
                    )
                    self.on_order(self.result.run_id, sent)
                    raise AbortRun(
                        f"Sending {order.side} {order.quantity} {order.symbol} failed ({type(error).__name__}) and "
                        "then Kite ended the session, so its order book could not be checked: the order may have "
                        f"been placed. Log in again ({login_command(self.result.user_id)}), look for tag {sent.tag} "
                        "in Kite's order book, then run again."
                    ) from None
                except (kite_errors.KiteException, requests.RequestException) as lookup:
                    sent.status = Sending.UNKNOWN
                    sent.message = f"sending failed ({type(error).__name__}) and the order book did not answer"
                    self.on_order(self.result.run_id, sent)
                    raise AbortRun(
                        f"Sending {order.side} {order.quantity} {order.symbol} failed and Kite's order book did not "
                        f"answer ({type(lookup).__name__}); the order may have been placed. Look for tag {sent.tag} "
                        "in Kite's order book before running again."
                    ) from None
                if found is not None:
                    sent.order_id, sent.status = found["order_id"], Sending.SENT
                    sent.message = f"the answer was lost ({type(error).__name__}); found in the order book"
                    break
                if failures >= SEND_ATTEMPTS:
                    sent.status = Sending.FAILED
                    code = f"HTTP {error.code} " if isinstance(error, kite_errors.KiteException) else ""
                    sent.message = (
                        f"{code}{type(error).__name__}: {str(error).rstrip('.') or 'no detail'}; "
                        f"not found in Kite's order book after {failures} tries, so most likely not placed: check "
                        f"the order book for tag {sent.tag}"
                    )
                    self._frozen[order.symbol] = "failed"
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
                    (self._bought if sent.side == Side.BUY else self._sold).add(sent.symbol)
                if entry.get("status_message"):
                    sent.message = entry["status_message"]
                if sent.status in FINAL_STATUSES:
                    if sent.status != Status.COMPLETE:
                        self._frozen[sent.symbol] = sent.outcome if sent.status == Status.REJECTED else "cancelled"
                    self.on_order(self.result.run_id, sent)
            if not any(order.waiting for order in orders) or waited >= self.options.fill_timeout:
                return
            self.sleep(pause)
            waited += pause
            pause = min(pause * 2, 3.0)
