"""Whole-share plans that bring an account as close to a basket as its funds allow, weighing what the
trades cost (pure, no I/O).

The total deficit is the sum over stocks of |target value - held value|, a stock's target being the
managed value times its weight (0 outside the basket). The managed value is the account's total
(cash, money held back, every holding) less the holdings `keep` names, which are neither traded nor
counted; with a `capital`, it is at most that much (see plan_rebalance). The plan chooses how many
whole shares of each stock to buy or sell so that

    deficit after the trades + cost_weight / sessions_left * charges the trades pay

is the least possible, proven by knapsack.py to within half a paisa (TOLERANCE), unless its search
limit is reached: then the plan says so (`proven_optimal` false, and a note). The charges are the
ledger's cost model (ledger/costs.py): STT, stamp duty on buys, exchange and SEBI fees with GST, and a
DP charge per scrip per day it is sold (none for a scrip already `sold` today). `sessions_left` is how
many sessions the plan's holdings stand until the next basket: a deficit left is carried every one of
them while the charges are paid once, so the objective is the per-session share of
    sessions_left * deficit + cost_weight * charges.
With a cost weight, an order is planned only if its charges are at most the deficit it removes from
its own stock over those sessions (sessions_left * the fall of |target - value|); a cost weight of 0
plans the least deficit whatever it costs.

- Buys are paid from the cash spendable now plus what today's sales free at once, which is the sale
  money of settled shares only (T1 shares' sale money arrives the next session); each buy is budgeted
  at `cash_buffer` above its price. Charges are debited later, from that buffer. Money is counted in
  whole paise (and the buffer's exact fraction of them), so that sums of money are exact.
- Nothing is sold beyond what is owned, and no order is worth less than the minimum order value.
- Stocks outside the basket are sold whole (unless their charges outweigh the whole holding): that
  lowers the deficit and frees money, whatever else the plan does. A basket stock may be bought up
  to the share above its target, or sold (even when underweight: with whole shares, selling one share
  can free the money another stock's share needs; with a cost weight such a sale never pays).
- With a `drift_band` (a share of each stock's target, e.g. 0.01), only basket stocks whose value is
  off their target by more than that share of it are traded; the others are listed as skipped for
  the band, as are trades whose charges outweigh what they remove.

Which whole-share holdings a stock can end at: every one from 0 to the share above its target, or to
the smallest order above (the `least` shares the minimum order value asks), that one trade reaches.
None is dropped for the solver: each stock's holdings are cut where its money or deficit or charges
bend (at the settled shares, at the target, at the held shares) into runs on which all three are
linear in the shares, and the solver takes every point of a run (a tight budget may need any of
them). Only holdings that another holding of the same stock beats on both money and value are left
out, which no optimum needs: buying beyond the share above the target (more money, more deficit),
selling T1 shares of a stock below its target (no money, more deficit), and the rest of any run along
which more money buys no less deficit.

DEFAULT_COST_WEIGHT and DEFAULT_DRIFT_BAND are a scheduled run's defaults, chosen with
bench/cost_bench.py on simulated daily runs with weekly baskets: a rupee of charges weighs as much as
₹300 of deficit held for a session, and stocks within 1% of their target are left alone. That paid
1.11 times the charges of trading on new-basket days only, for a mean deficit of 1.05% of the account
(trading to the least deficit daily: 1.38 times, 0.48%; new-basket days only: 2.22%; a 3% band
alone: 1.12 times, 1.10%). A basket the account has not been traded to yet is traded to in full:
cost weight 0 and no band.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from niftybaskets.errors import InputError
from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.kite.wire import Side
from niftybaskets.ledger.costs import ZERODHA, CostModel
from niftybaskets.rebalance.knapsack import Run, solve

# Plans whose objectives differ by less than half a paisa are equal.
TOLERANCE = 0.005

# A scheduled run's defaults (module docstring).
DEFAULT_COST_WEIGHT = 300.0
DEFAULT_DRIFT_BAND = 0.01


class KeepError(InputError):
    """A stock to keep untouched is also in the basket."""


class SkipReason(StrEnum):
    BAND = "within the drift band"
    CHARGES = "its charges outweigh the deficit it removes"


@dataclass(frozen=True)
class PlannedOrder:
    symbol: str
    side: Side
    quantity: int
    price: float
    deficit: float  # |target - held value| before any order: the execution priority
    charges: float = 0.0  # estimated, with the ledger's cost model

    @property
    def value(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class SkippedTrade:
    """The trade a stock's own deficit asks for (to its nearest whole-share holding), not planned."""

    symbol: str
    side: Side
    quantity: int
    price: float
    deficit: float
    charges: float
    reason: SkipReason

    @property
    def value(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class Plan:
    total_value: float  # the managed value the targets are shares of
    targets: dict[str, float]
    held: dict[str, int]
    after: dict[str, int]
    prices: dict[str, float]
    orders: list[PlannedOrder]  # sells first, then buys; each by largest deficit first
    spendable: float
    deficit_before: float
    deficit_after: float
    notes: list[str] = field(default_factory=list)
    skipped: list[SkippedTrade] = field(default_factory=list)
    proven_optimal: bool = True  # false only when the search stopped at its limit (a note says so)

    @property
    def sells(self) -> list[PlannedOrder]:
        return [order for order in self.orders if order.side == Side.SELL]

    @property
    def buys(self) -> list[PlannedOrder]:
        return [order for order in self.orders if order.side == Side.BUY]

    @property
    def charges(self) -> float:
        return sum(order.charges for order in self.orders)

    @property
    def traded(self) -> float:
        return sum(order.value for order in self.orders)


def managed_targets(
    portfolio: Portfolio,
    weights: Mapping[str, float],
    total_value: float | None = None,
    capital: float | None = None,
    keep: Collection[str] = (),
) -> tuple[float, dict[str, float], Portfolio]:
    """The value managed for the basket (the account, or `total_value`, less the kept holdings, at most
    `capital`), each stock's target in rupees, and the portfolio without the kept holdings."""
    account = portfolio.total if total_value is None else total_value
    account -= sum(portfolio.value_of(symbol) for symbol in set(keep) & set(portfolio.quantities))
    value = account if capital is None else min(capital, account)
    targets = {symbol: weight * value for symbol, weight in weights.items() if weight > 0}
    return value, targets, portfolio.without(keep)


def total_deficit(quantities: Mapping[str, int], prices: Mapping[str, float], targets: Mapping[str, float]) -> float:
    symbols = set(targets) | {symbol for symbol, quantity in quantities.items() if quantity}
    return sum(abs(targets.get(s, 0.0) - quantities.get(s, 0) * prices[s]) for s in symbols)


@dataclass(frozen=True)
class _Money:
    """Whole units of money: a paisa is `selling` units and a bought share's paisa with the cash buffer
    `buying` units, so that every sum the plan adds up is exact (a fraction of a paisa is no money)."""

    buying: int
    selling: int

    @classmethod
    def of_buffer(cls, cash_buffer: float) -> _Money:
        share = Fraction(1 + cash_buffer).limit_denominator(10_000)
        return cls(share.numerator, share.denominator)

    @staticmethod
    def paise(rupees: float) -> int:
        return round(rupees * 100)

    def of(self, rupees: float) -> int:
        """`rupees` of cash, down to the whole paisa."""
        return math.floor(round(rupees * 100, 6)) * self.selling


@dataclass
class _Stock:
    """One stock the plan may trade, and the rules of its trade."""

    symbol: str
    held: int
    price: float
    target: float
    settled: int
    least: int  # the fewest shares worth an order (minimum order value)
    can_buy: bool
    can_sell: bool
    whole: bool  # outside the basket: sold whole or not at all
    pays_dp: bool
    unit: int  # money a bought share takes, its price and the cash buffer (in _Money units)
    proceeds: int  # money a sold settled share frees, its price
    weight: float  # rupees of deficit a rupee of charges is worth this session
    sessions: int
    costs: CostModel

    def charges(self, quantity: int) -> float:
        if quantity > self.held:
            return self.costs.buy_charges((quantity - self.held) * self.price)
        if quantity < self.held:
            return self.costs.sell_charges((self.held - quantity) * self.price, self.pays_dp)
        return 0.0

    def money(self, quantity: int) -> int:
        """The money the holding takes from today's (or frees, negative), in whole units."""
        if quantity > self.held:
            return (quantity - self.held) * self.unit
        return -min(self.held - quantity, self.settled) * self.proceeds

    def deficit(self, quantity: int) -> float:
        return abs(self.target - quantity * self.price)

    def value(self, quantity: int) -> float:
        return self.deficit(quantity) + self.weight * self.charges(quantity)

    def pays_for_itself(self, quantity: int) -> bool:
        removed = self.sessions * (self.deficit(self.held) - self.deficit(quantity))
        return self.charges(quantity) <= removed + 1e-9 * max(1.0, removed)

    def ranges(self) -> list[tuple[int, int]]:
        """The holdings one allowed trade reaches, as ranges of shares, the held one first."""
        h, least = self.held, self.least
        if self.whole:
            return [(h, h), (0, 0)] if self.can_sell and h >= least else [(h, h)]
        ranges = [(h, h)]
        if self.can_sell and h >= least and (self.settled > 0 or self.price * h > self.target):
            ranges.append((0, h - least))
        ideal = self.target / self.price
        if self.can_buy and h < ideal:
            ranges.append((h + least, h + max(math.ceil(ideal) - h, least)))
        return ranges

    def nearest(self) -> int:
        """The allowed holding closest to the target, whatever the money or the charges."""
        ideal = self.target / self.price
        candidates = set()
        for low, high in self.ranges():
            candidates.update(min(max(q, low), high) for q in (math.floor(ideal), math.ceil(ideal)))
        return min(candidates, key=lambda q: (self.deficit(q), abs(q - self.held)))

    def runs(self, cost_aware: bool) -> tuple[list[Run], list[int]]:
        """The holdings as knapsack runs (and the first holding of each run), the held one first."""
        runs, starts = [], []
        cuts = [self.held - self.settled - 1, math.floor(self.target / self.price)]
        for low, high in self.ranges():
            for start, end in _pieces(low, high, cuts):
                if cost_aware and (start, end) != (self.held, self.held):
                    allowed = _where(self.pays_for_itself, start, end)
                    if allowed is None:
                        continue
                    start, end = allowed
                run, first = self._run(start, end)
                runs.append(run)
                starts.append(first)
        return runs, starts

    def _run(self, start: int, end: int) -> tuple[Run, int]:
        m0, m1 = self.money(start), self.money(end)
        v0, v1 = self.value(start), self.value(end)
        if start == end or (m1 > m0 and v1 >= v0):
            return Run(m0, v0), start  # the rest of the run takes more money for no less value
        if m1 == m0:  # sold T1 shares free nothing: the run's better end is all it offers
            return (Run(m1, v1), end) if v1 <= v0 else (Run(m0, v0), start)
        steps = end - start
        return Run(m0, v0, (m1 - m0) / steps, (v1 - v0) / steps, steps + 1), start


def _pieces(low: int, high: int, cuts: list[int]) -> list[tuple[int, int]]:
    """[low, high] cut after each of `cuts` inside it."""
    pieces, start = [], low
    for cut in sorted(set(cuts)):
        if start <= cut < high:
            pieces.append((start, cut))
            start = cut + 1
    pieces.append((start, high))
    return pieces


def _where(holds: Callable[[int], bool], start: int, end: int) -> tuple[int, int] | None:
    """The sub-range of [start, end] where `holds` is true, when that is a range holding `start` or `end`
    (a linear condition)."""
    first, last = holds(start), holds(end)
    if first and last:
        return start, end
    if not first and not last:
        return None
    # One end holds: bisect for the last (or first) holding that does.
    good, bad = (start, end) if first else (end, start)
    while abs(good - bad) > 1:
        middle = (good + bad) // 2
        if holds(middle):
            good = middle
        else:
            bad = middle
    return (start, good) if first else (good, end)


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
    cost_weight: float = 0.0,
    sessions_left: int = 1,
    drift_band: float = 0.0,
    capital: float | None = None,
    keep: Collection[str] = (),
    costs: CostModel = ZERODHA,
) -> Plan:
    """The plan of least deficit plus weighted charges (module docstring).

    `total_value` overrides the portfolio's own total (both include the kept holdings); `frozen`
    stocks are left as they are (their orders were refused earlier); basket stocks already `bought`
    today are not sold, those `sold` are not bought (prices moving between passes must not make a run
    trade a stock back and forth) and pay no second DP charge; buys are budgeted at `cash_buffer` (a
    share, e.g. 0.005) above their price, to leave room for price moves. `cost_weight` (>= 0) is how
    many rupees of deficit a rupee of charges is worth, `sessions_left` (>= 1) how many sessions the
    holdings stand until the next basket. `drift_band` (a share, e.g. 0.01) leaves alone every basket
    stock whose value is within that share of its target. `keep` names holdings left untouched and
    outside the total. `capital` manages at most that many rupees: targets are weights times the lesser
    of the capital and the account, and the plan spends no more than the capital less what the managed
    stocks are worth (nor more than the cash), so what the basket holds stays within the capital; an
    account worth less is managed whole, and cash beyond the capital is left alone.
    """
    if cost_weight < 0 or sessions_left < 1 or drift_band < 0 or (capital is not None and capital <= 0):
        raise ValueError("cost_weight and drift_band are at least 0, sessions_left at least 1, capital above 0")
    clash = sorted(set(keep) & {symbol for symbol, weight in weights.items() if weight > 0})
    if clash:
        raise KeepError(f"{', '.join(clash)} are in the basket: a basket stock cannot be kept untouched")
    value, targets, managed = managed_targets(portfolio, weights, total_value, capital, keep)
    symbols = sorted(set(targets) | {s for s, q in managed.quantities.items() if q})
    missing = [symbol for symbol in symbols if not managed.prices.get(symbol, 0) > 0]
    if missing:
        raise ValueError(f"no price for {', '.join(missing)}")
    prices = {symbol: managed.prices[symbol] for symbol in symbols}
    held = {symbol: managed.quantities.get(symbol, 0) for symbol in symbols}
    budget = managed.cash
    if capital is not None:
        # Only the basket's stocks fill the capital: those outside it are being sold, not bought.
        budget = min(budget, value - sum(held[s] * prices[s] for s in symbols if s in targets))
    notes: list[str] = []
    if budget < 0:
        notes.append(
            f"cash is negative (₹{managed.cash:,.0f}): no buys until it is covered"
            if managed.cash < 0
            else f"the managed stocks are worth more than the capital (₹{value:,.0f}): no buys until sales cover it"
        )
    money = _Money.of_buffer(cash_buffer)
    stocks, skipped = [], []
    for symbol in symbols:
        if symbol in frozen or (symbol not in targets and held[symbol] <= 0):
            continue
        stock = _Stock(
            symbol,
            max(held[symbol], 0),
            prices[symbol],
            targets.get(symbol, 0.0),
            min(managed.settled.get(symbol, 0), max(held[symbol], 0)),
            max(1, math.ceil(min_order_value / prices[symbol] - 1e-9)),
            budget >= 0 and symbol not in sold,
            symbol not in targets or symbol not in bought,
            symbol not in targets,
            symbol not in sold,
            money.paise(prices[symbol]) * money.buying,
            # Under a capital, what a stock outside the basket frees buys nothing now: it would fill the
            # capital beyond the budget, which counts only the basket's stocks (a later pass spends it).
            0 if capital is not None and symbol not in targets else money.paise(prices[symbol]) * money.selling,
            cost_weight / sessions_left,
            sessions_left,
            costs,
        )
        if stock.whole and stock.held * stock.price < min_order_value:
            worth = stock.held * stock.price
            notes.append(f"{symbol}: selling all {stock.held} (₹{worth:,.0f}) is below the minimum order value")
            continue
        if not stock.whole and drift_band > 0 and stock.deficit(stock.held) <= drift_band * stock.target:
            _skip(skipped, stock, SkipReason.BAND)
            continue
        stocks.append(stock)
    options = [stock.runs(cost_weight > 0) for stock in stocks]
    solution = solve([runs for runs, _ in options], money.of(max(budget, 0.0)), tolerance=TOLERANCE, grain=money.buying)
    if not solution.proven:
        notes.append(
            "the planner stopped at its search limit: this plan is the best it found, not proven the least "
            f"(at most ₹{solution.value - solution.bound:,.2f} above it)"
        )
    orders: list[PlannedOrder] = []
    for stock, (runs, starts), (run, step) in zip(stocks, options, solution.choices, strict=True):
        quantity = starts[run] + step
        deficit = stock.deficit(stock.held)
        if quantity > stock.held:
            orders.append(
                PlannedOrder(
                    stock.symbol, Side.BUY, quantity - stock.held, stock.price, deficit, stock.charges(quantity)
                )
            )
        elif quantity < stock.held:
            orders.append(
                PlannedOrder(
                    stock.symbol, Side.SELL, stock.held - quantity, stock.price, deficit, stock.charges(quantity)
                )
            )
        elif cost_weight > 0 and not _worth_alone(stock, runs):
            _skip(skipped, stock, SkipReason.CHARGES)
    orders.sort(key=lambda order: (order.side != Side.SELL, -order.deficit, order.symbol))
    after = dict(held)
    for order in orders:
        after[order.symbol] += order.quantity if order.side == Side.BUY else -order.quantity
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
        skipped=sorted(skipped, key=lambda trade: (-trade.deficit, trade.symbol)),
        proven_optimal=solution.proven,
    )


def _worth_alone(stock: _Stock, runs: list[Run]) -> bool:
    """Whether some trade of `stock` lowers its deficit by more than its weighted charges, money aside."""
    stay = stock.value(stock.held)
    return any(min(run.value, run.at(run.count - 1)[1]) < stay - 1e-9 for run in runs[1:])


def _skip(skipped: list[SkippedTrade], stock: _Stock, reason: SkipReason) -> None:
    quantity = stock.nearest()
    if quantity == stock.held:
        return
    side = Side.BUY if quantity > stock.held else Side.SELL
    skipped.append(
        SkippedTrade(
            stock.symbol,
            side,
            abs(quantity - stock.held),
            stock.price,
            stock.deficit(stock.held),
            stock.charges(quantity),
            reason,
        )
    )
