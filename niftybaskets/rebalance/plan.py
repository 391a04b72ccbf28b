"""Whole-share plans that bring an account as close to a basket as its funds allow (pure, no I/O).

The total deficit is the sum over stocks of |target value - held value|, a stock's target being
the account's total value times its weight (0 outside the basket). The plan chooses how many
whole shares of each stock to buy or sell so that the deficit after the trades is the least
possible, as a mixed-integer program solved exactly by HiGHS (scipy.optimize.milp):

- buys are paid from the cash spendable now plus what today's sales free at once, which is the
  sale money of settled shares only (T1 shares' sale money arrives the next session);
- nothing is sold beyond what is owned, and no order is worth less than the minimum order value.

Stocks outside the basket are sold whole: that lowers the deficit and frees money, whatever else
the plan does. A basket stock may be bought up to the share above its target, or sold (even when
underweight: with whole shares, selling one share can free the money another stock's share needs).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from niftybaskets.kite.portfolio import Portfolio

# HiGHS presolve costs more than it saves on these small programs.
SOLVER_OPTIONS = {"time_limit": 20.0, "mip_rel_gap": 1e-7, "presolve": False}


class PlanError(RuntimeError):
    """The solver found no plan; should not happen, as trading nothing is always feasible."""


@dataclass(frozen=True)
class PlannedOrder:
    symbol: str
    side: str  # BUY or SELL
    quantity: int
    price: float
    deficit: float  # |target - held value| before any order: the execution priority

    @property
    def value(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class Plan:
    total_value: float
    targets: dict[str, float]
    held: dict[str, int]
    after: dict[str, int]
    prices: dict[str, float]
    orders: list[PlannedOrder]  # sells first, then buys; each by largest deficit first
    spendable: float
    deficit_before: float
    deficit_after: float
    notes: list[str] = field(default_factory=list)

    @property
    def sells(self) -> list[PlannedOrder]:
        return [order for order in self.orders if order.side == "SELL"]

    @property
    def buys(self) -> list[PlannedOrder]:
        return [order for order in self.orders if order.side == "BUY"]


def total_deficit(quantities: Mapping[str, int], prices: Mapping[str, float], targets: Mapping[str, float]) -> float:
    symbols = set(targets) | {symbol for symbol, quantity in quantities.items() if quantity}
    return sum(abs(targets.get(s, 0.0) - quantities.get(s, 0) * prices[s]) for s in symbols)


@dataclass
class _Stock:
    """One basket stock in the program."""

    symbol: str
    held: int
    price: float
    target: float
    settled: int
    buy_most: int  # more never lowers the deficit: the share above the target, or the smallest order
    least: int  # the fewest shares worth an order (minimum order value)
    can_sell: bool


def plan_rebalance(
    portfolio: Portfolio,
    weights: Mapping[str, float],
    *,
    min_order_value: float = 0.0,
    total_value: float | None = None,
    frozen: Collection[str] = (),
    bought: Collection[str] = (),
    sold: Collection[str] = (),
    cash_buffer: float = 0.0,
) -> Plan:
    """The least-deficit whole-share plan. `total_value` overrides the portfolio's own total;
    `frozen` stocks are left as they are (their orders were refused earlier); basket stocks
    already `bought` today are not sold, those `sold` are not bought (prices moving between passes
    must not make a run trade a stock back and forth); buys are budgeted at `cash_buffer` (a share,
    e.g. 0.005) above their price, to leave room for price moves."""
    value = portfolio.total if total_value is None else total_value
    targets = {symbol: weight * value for symbol, weight in weights.items() if weight > 0}
    symbols = sorted(set(targets) | set(portfolio.quantities))
    missing = [symbol for symbol in symbols if not portfolio.prices.get(symbol, 0) > 0]
    if missing:
        raise ValueError(f"no price for {', '.join(missing)}")
    prices = {symbol: portfolio.prices[symbol] for symbol in symbols}
    held = {symbol: portfolio.quantities.get(symbol, 0) for symbol in symbols}
    notes: list[str] = []
    orders: list[PlannedOrder] = []
    freed = 0.0  # money today's fixed sales free at once
    for symbol in symbols:
        if symbol in targets or held[symbol] <= 0 or symbol in frozen:
            continue
        order = PlannedOrder(symbol, "SELL", held[symbol], prices[symbol], held[symbol] * prices[symbol])
        if order.value < min_order_value:
            notes.append(
                f"{symbol}: selling all {order.quantity} (₹{order.value:,.0f}) is below the minimum order value"
            )
            continue
        orders.append(order)
        freed += min(order.quantity, portfolio.settled.get(symbol, 0)) * order.price
    stocks = []
    for symbol, target in targets.items():
        if symbol in frozen:
            continue
        price, owned = prices[symbol], max(held[symbol], 0)
        least = max(1, math.ceil(min_order_value / price - 1e-9))
        underweight = owned < target / price and symbol not in sold
        stocks.append(
            _Stock(
                symbol,
                owned,
                price,
                target,
                min(portfolio.settled.get(symbol, 0), owned),
                max(math.ceil(target / price) - owned, least) if underweight else 0,
                least,
                symbol not in bought,
            )
        )
    budget = portfolio.cash + freed
    if budget < 0:
        notes.append(f"cash is negative (₹{portfolio.cash:,.0f}): no buys until it is covered")
    for stock, (bought, sold) in zip(stocks, _solve(stocks, budget, 1 + cash_buffer), strict=True):
        deficit = abs(stock.target - stock.held * stock.price)
        if bought:
            orders.append(PlannedOrder(stock.symbol, "BUY", bought, stock.price, deficit))
        if sold:
            orders.append(PlannedOrder(stock.symbol, "SELL", sold, stock.price, deficit))
    orders.sort(key=lambda order: (order.side != "SELL", -order.deficit, order.symbol))
    after = dict(held)
    for order in orders:
        after[order.symbol] += order.quantity if order.side == "BUY" else -order.quantity
    return Plan(
        total_value=value,
        targets=targets,
        held=held,
        after=after,
        prices=prices,
        orders=orders,
        spendable=budget,
        deficit_before=total_deficit(held, prices, targets),
        deficit_after=total_deficit(after, prices, targets),
        notes=notes,
    )


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """HiGHS, inside scipy, prints stray debug lines to the process's stdout: keep them out of reports."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class _Program:
    """A mixed-integer program assembled column by column, for scipy.optimize.milp."""

    def __init__(self) -> None:
        self.objective: list[float] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.integrality: list[int] = []
        self.entries: tuple[list[int], list[int], list[float]] = ([], [], [])
        self.row_low: list[float] = []
        self.row_high: list[float] = []

    def column(self, cost: float, low: float, high: float, integrality: int) -> int:
        self.objective.append(cost)
        self.low.append(low)
        self.high.append(high)
        self.integrality.append(integrality)
        return len(self.objective) - 1

    def row(self, terms: list[tuple[int | None, float]], low: float, high: float) -> None:
        rows, columns, values = self.entries
        for column, coefficient in terms:
            if column is not None:
                rows.append(len(self.row_low))
                columns.append(column)
                values.append(coefficient)
        self.row_low.append(low)
        self.row_high.append(high)

    def solve(self) -> np.ndarray:
        rows, columns, values = self.entries
        matrix = coo_array((values, (rows, columns)), shape=(len(self.row_low), len(self.objective))).tocsr()
        with _native_stdout_silenced():
            result = milp(
                np.array(self.objective),
                constraints=LinearConstraint(matrix, self.row_low, self.row_high),
                bounds=Bounds(self.low, self.high),
                integrality=np.array(self.integrality),
                options=SOLVER_OPTIONS,
            )
        if result.x is None:
            raise PlanError(f"the planner found no solution: {result.message}")
        return np.rint(result.x)


def _nearest(stock: _Stock) -> int:
    """The whole-share holding closest to the target that a single allowed trade reaches."""
    h, p, ideal = stock.held, stock.price, stock.target / stock.price
    candidates = {h}
    intervals = [(h + stock.least, h + stock.buy_most)]
    if stock.can_sell:
        intervals.append((0, h - stock.least))
    for low, high in intervals:
        if low <= high:
            candidates.update(min(max(q, low), high) for q in (math.floor(ideal), math.ceil(ideal)))
    return min(candidates, key=lambda q: (abs(stock.target - p * q), abs(q - h)))


def _solve(stocks: list[_Stock], budget: float, buy_cost: float) -> list[tuple[int, int]]:
    """(shares bought, shares sold) per stock, for the least total deficit within the budget."""
    if not stocks:
        return []
    # Each stock at its own best is the optimum whenever the money suffices: no solver needed.
    nearest = [_nearest(stock) for stock in stocks]
    spent = sum(max(q - s.held, 0) * s.price * buy_cost for q, s in zip(nearest, stocks, strict=True))
    freed = sum(min(max(s.held - q, 0), s.settled) * s.price for q, s in zip(nearest, stocks, strict=True))
    if spent <= budget + freed and (budget >= 0 or spent == 0):
        return [(max(q - s.held, 0), max(s.held - q, 0)) for q, s in zip(nearest, stocks, strict=True)]
    program = _Program()
    trades: list[tuple[int | None, int | None]] = []
    spending: list[tuple[int | None, float]] = []
    for stock in stocks:
        p, h, t = stock.price, stock.held, stock.target
        # Semi-integer trades (none, or from `least` shares up) only where a minimum order value
        # makes them differ from plain integers: they cost the solver extra binaries.
        kind, least = (3, stock.least) if stock.least > 1 else (1, 0)
        buy = sell = None
        if budget >= 0 and stock.buy_most >= stock.least:
            buy = program.column(p * 1e-7, least, stock.buy_most, kind)
            spending.append((buy, p * buy_cost))
        # Selling frees money only from settled shares; without it, only an overweight stock sells.
        if stock.can_sell and h >= stock.least and (stock.settled > 0 or p * h > t):
            sell = program.column(p * 1e-7, least, h, kind)
            if stock.settled > 0:
                freed = program.column(0.0, 0.0, p * stock.settled, 0)
                program.row([(freed, 1.0), (sell, -p)], -np.inf, 0.0)  # a sale frees at most its money
                spending.append((freed, -1.0))
        if buy is not None and sell is not None and stock.least > 1:
            # Without a minimum, buying and selling one stock never helps; with one, a sale and a
            # bigger buy could dodge it. One way only: `selling` is 1 for a sale, 0 for a buy.
            selling = program.column(0.0, 0.0, 1.0, 1)
            program.row([(buy, 1.0), (selling, float(stock.buy_most))], -np.inf, float(stock.buy_most))
            program.row([(sell, 1.0), (selling, -float(h))], -np.inf, 0.0)
        deficit = program.column(1.0, 0.0, np.inf, 0)
        # deficit >= |target - price * (held + bought - sold)|
        program.row([(deficit, 1.0), (buy, p), (sell, -p)], t - p * h, np.inf)
        program.row([(deficit, 1.0), (buy, -p), (sell, p)], p * h - t, np.inf)
        trades.append((buy, sell))
    if any(coefficient > 0 for _, coefficient in spending):
        program.row(spending, -np.inf, budget)
    x = program.solve()
    moves = []
    for buy, sell in trades:
        # A buy and a sale of one stock net out: the same holding for no more money.
        net = (0 if buy is None else int(x[buy])) - (0 if sell is None else int(x[sell]))
        moves.append((max(net, 0), max(-net, 0)))
    return moves
