"""Scoring published baskets and forecasts against the prices that followed them (pure: no I/O).

The rules, which docs/performance pages repeat for readers:
- A basket is bought at the open (or close) of the first session whose pre-open auction starts
  after its publication time (09:00 IST: the open is set there), so no price known when it was
  published is used, and held for `horizon_days` calendar days: it is sold at the close of the last
  session on or before entry day + horizon.
- Its return is the weighted return of its stocks on one share basis (splits and bonuses taken out),
  before costs; the costs of buying and selling it (see costs.py) are a separate line. The benchmark
  is the index over the same sessions, from the same open or close.
- A forecast is checked on the close of the last session on or before publication day + its
  horizon, against the price it was made from and its target.
- A basket or forecast whose last session has not closed (and been published by NSE, 18:00 IST) is
  open. A price that is missing is reported as missing and the basket has no return; nothing is
  taken as zero.
- Rs 1 lakh follows the baskets as the rebalancer would: each is held until the next one is bought
  (at that one's open or close) or until its horizon ends, in cash after that.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from scipy.stats import spearmanr

from niftybaskets.baskets import PublishedBasket
from niftybaskets.ledger.costs import ZERODHA, CostModel, Costs, round_trip
from niftybaskets.ledger.prices import PriceSeries
from niftybaskets.market import IST, NseCalendar

PRICES_FINAL = time(18, 0)  # NSE's history has the day's prices by the evening
PRE_OPEN = time(9, 0)  # the auction that sets the open runs 09:00-09:08 IST
START_CAPITAL = 100_000.0
# Predicted-gain buckets for calibration: (label, lowest excluded, highest included), percent.
BUCKETS = [
    ("0% or less", -math.inf, 0.0),
    ("up to 2%", 0.0, 2.0),
    ("2% to 5%", 2.0, 5.0),
    ("5% to 10%", 5.0, 10.0),
    ("over 10%", 10.0, math.inf),
]


@dataclass(frozen=True)
class Window:
    """The sessions a basket or forecast spans, and the day whose share basis its prices use."""

    basis: date  # the last session that started before publication
    entry: date
    exit: date


def window(calendar: NseCalendar, published: datetime, horizon_days: int) -> Window:
    local = published.astimezone(IST)
    entry = local.date()
    if not (calendar.is_trading_day(entry) and local.time() < PRE_OPEN):
        entry = calendar.next_trading_day(entry)
    exit_day = entry + timedelta(days=horizon_days)
    while not calendar.is_trading_day(exit_day):
        exit_day -= timedelta(days=1)
    return Window(calendar.previous_trading_day(entry), entry, max(exit_day, entry))


def forecast_day(calendar: NseCalendar, published: datetime, horizon_days: int, entry: date) -> date:
    """The session whose close a forecast is checked on: the last one on or before publication day +
    horizon, and never before the first session after publication."""
    day = published.astimezone(IST).date() + timedelta(days=horizon_days)
    while not calendar.is_trading_day(day):
        day -= timedelta(days=1)
    return max(day, entry)


def is_final(day: date, now: datetime) -> bool:
    return now >= datetime.combine(day, PRICES_FINAL, IST)


def change(before: float | None, after: float | None) -> float | None:
    """The return from `before` to `after`; None when either is missing."""
    return None if before is None or after is None else after / before - 1


@dataclass
class Holding:
    symbol: str
    weight: float
    entry_price: float | None
    exit_price: float | None  # on the entry day's share basis
    factor: float  # splits and bonuses between entry and exit
    missing: str = ""

    @property
    def gross_return(self) -> float | None:
        return change(self.entry_price, self.exit_price)


@dataclass
class BasketScore:
    basket: PublishedBasket
    window: Window
    entry_kind: str  # "open" or "close"
    status: str  # "scored", "open" or "missing prices"
    holdings: list[Holding] = field(default_factory=list)
    gross: float | None = None
    costs: Costs | None = None  # at START_CAPITAL
    index_entry: float | None = None
    index_exit: float | None = None
    flags: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def net(self) -> float | None:
        if self.gross is None or self.costs is None:
            return None
        return self.gross - self.costs.total / START_CAPITAL

    @property
    def index_return(self) -> float | None:
        return change(self.index_entry, self.index_exit)

    @property
    def excess(self) -> float | None:
        if self.net is None or self.index_return is None:
            return None
        return self.net - self.index_return


@dataclass(frozen=True)
class ForecastScore:
    basket: str  # stem
    symbol: str
    chosen: bool
    day: date
    base: float
    target: float
    predicted_gain: float  # percent
    realised_price: float  # on the base's share basis
    factor: float

    @property
    def realised_gain(self) -> float:
        return (self.realised_price / self.base - 1) * 100

    @property
    def error(self) -> float:
        """How far the realised price ended from the target, percent of the target."""
        return (self.realised_price / self.target - 1) * 100

    @property
    def direction_hit(self) -> bool:
        """Right when the stock rose and a gain was predicted, or it did not rise and none was."""
        return (self.predicted_gain > 0) == (self.realised_gain > 0)


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int
    mean_predicted: float
    mean_realised: float
    hit_rate: float


@dataclass(frozen=True)
class GrowthPoint:
    day: date
    basket: str  # stem of the basket that ended here ("" for the start)
    following: float
    index: float


@dataclass
class Ledger:
    index: str
    baskets: list[BasketScore]
    forecasts: list[ForecastScore]
    open_forecasts: int
    missing_forecasts: list[str]
    growth: list[GrowthPoint]
    left_out_of_growth: list[tuple[str, str]]  # (stem, why)
    cost_model: CostModel

    @property
    def scored(self) -> list[BasketScore]:
        return [score for score in self.baskets if score.status == "scored"]

    @property
    def information_coefficient(self) -> float | None:
        """Spearman's rank correlation of predicted gain with realised gain, over every scored forecast."""
        if len(self.forecasts) < 3:
            return None
        predicted = [f.predicted_gain for f in self.forecasts]
        realised = [f.realised_gain for f in self.forecasts]
        if len(set(predicted)) < 2 or len(set(realised)) < 2:
            return None
        return float(spearmanr(predicted, realised).statistic)

    @property
    def direction_hit_rate(self) -> float | None:
        if not self.forecasts:
            return None
        return sum(f.direction_hit for f in self.forecasts) / len(self.forecasts)

    @property
    def calibration(self) -> list[Bucket]:
        buckets = []
        for label, low, high in BUCKETS:
            inside = [f for f in self.forecasts if low < f.predicted_gain <= high]
            if inside:
                buckets.append(
                    Bucket(
                        label,
                        len(inside),
                        statistics.fmean(f.predicted_gain for f in inside),
                        statistics.fmean(f.realised_gain for f in inside),
                        sum(f.direction_hit for f in inside) / len(inside),
                    )
                )
        return buckets


def _holding(series: PriceSeries | None, symbol: str, weight: float, span: Window, entry_kind: str) -> Holding:
    if series is None or not series.days:
        reason = series.missing_reason if series is not None and series.missing_reason else "no prices"
        return Holding(symbol, weight, None, None, 1.0, f"{symbol}: {reason}")
    entry = series.price(span.entry, entry_kind, span.entry)
    exit_price = series.price(span.exit, "close", span.entry)
    missing = [
        f"{symbol} has no {kind} price for {day}"
        for kind, day, price in ((entry_kind, span.entry, entry), ("close", span.exit, exit_price))
        if price is None
    ]
    return Holding(symbol, weight, entry, exit_price, series.factor_between(span.entry, span.exit), "; ".join(missing))


def score_basket(
    basket: PublishedBasket,
    prices: Mapping[str, PriceSeries],
    calendar: NseCalendar,
    now: datetime,
    entry_kind: str = "open",
    cost_model: CostModel = ZERODHA,
) -> BasketScore:
    span = window(calendar, basket.created, basket.horizon_days)
    score = BasketScore(basket, span, entry_kind, "open")
    if not is_final(span.exit, now):
        return score
    score.holdings = [
        _holding(prices.get(symbol), symbol, weight, span, entry_kind)
        for symbol, weight in sorted(basket.weights.items(), key=lambda item: (-item[1], item[0]))
    ]
    index = prices.get(basket.index)
    if index is not None:
        score.index_entry = index.price(span.entry, entry_kind, span.entry)
        score.index_exit = index.price(span.exit, "close", span.entry)
    score.missing = [h.missing for h in score.holdings if h.missing]
    if score.index_entry is None or score.index_exit is None:
        score.missing.append(f"the index {basket.index} has no {entry_kind}/close for {span.entry}/{span.exit}")
    for symbol in [*basket.weights, basket.index]:
        series = prices.get(symbol)
        if series is not None:
            score.flags += [text for day, text in series.jumps() if span.entry < day <= span.exit]
    if score.missing:
        score.status = "missing prices"
        return score
    score.status = "scored"
    score.gross = sum(h.weight * h.gross_return for h in score.holdings)
    score.costs = costs_at(
        START_CAPITAL, [h.weight for h in score.holdings], [h.gross_return for h in score.holdings], cost_model
    )
    return score


def costs_at(capital: float, weights: list[float], returns: list[float], cost_model: CostModel) -> Costs:
    """Buying `capital` split by `weights` and selling each part after its return."""
    bought = [capital * weight for weight in weights]
    return round_trip(bought, [value * (1 + r) for value, r in zip(bought, returns, strict=True)], cost_model)


def score_forecasts(
    basket: PublishedBasket, prices: Mapping[str, PriceSeries], calendar: NseCalendar, now: datetime
) -> tuple[list[ForecastScore], int, list[str]]:
    """The basket's scored forecasts, how many are still open, and what is missing for the rest."""
    span = window(calendar, basket.created, basket.horizon_days)
    day = forecast_day(calendar, basket.created, basket.horizon_days, span.entry)
    if not is_final(day, now):
        return [], len(basket.forecasts), []
    scored, missing = [], []
    for forecast in basket.forecasts:
        series = prices.get(forecast.symbol)
        realised = series.price(day, "close", span.basis) if series is not None else None
        if realised is None:
            missing.append(f"{basket.stem}: {forecast.symbol} has no close for {day}")
            continue
        scored.append(
            ForecastScore(
                basket=basket.stem,
                symbol=forecast.symbol,
                chosen=forecast.chosen,
                day=day,
                base=forecast.last_price,
                target=forecast.target,
                predicted_gain=forecast.predicted_gain,
                realised_price=realised,
                factor=series.factor_between(span.basis, day),
            )
        )
    return scored, 0, missing


def _sold_early(
    score: BasketScore, prices: Mapping[str, PriceSeries], day: date, kind: str
) -> tuple[list[float], float] | None:
    """Each stock's return and the index's, had the basket been sold at `day`'s open or close
    instead; None when a price is missing."""
    span = score.window
    returns = []
    for holding in score.holdings:
        series = prices.get(holding.symbol)
        price = series.price(day, kind, span.entry) if series else None
        if price is None:
            return None
        returns.append(price / holding.entry_price - 1)
    index = prices.get(score.basket.index)
    level = index.price(day, kind, span.entry) if index else None
    return None if level is None else (returns, level / score.index_entry - 1)


def growth(
    scores: list[BasketScore], prices: Mapping[str, PriceSeries], now: datetime, cost_model: CostModel
) -> tuple[list[GrowthPoint], list[tuple[str, str]]]:
    """Rs 1 lakh following the baskets as the rebalancer would: each bought basket held until the
    next one is bought or its horizon ends, costs paid on the money at hand; the same money in the
    index over the same sessions. A basket that cannot be valued is a stretch in cash; the line
    stops at a basket still held. Also the baskets left out, and why."""
    bought = [s for s in scores if is_final(s.window.entry, now)]
    points: list[GrowthPoint] = []
    left_out: list[tuple[str, str]] = []
    following = index = START_CAPITAL
    for position, current in enumerate(bought):
        successor = bought[position + 1] if position + 1 < len(bought) else None
        if successor is not None and successor.window.entry == current.window.entry:
            left_out.append((current.basket.stem, f"replaced by {successor.basket.stem} before it was bought"))
            continue
        if current.status == "open":
            break  # still held: its value is not final
        if current.status == "missing prices":
            left_out.append((current.basket.stem, "prices missing: in cash while it was held"))
            continue
        returns = [h.gross_return for h in current.holdings]
        index_return, sold_on = current.index_return, current.window.exit
        if successor is not None and successor.window.entry <= current.window.exit:
            early = _sold_early(current, prices, successor.window.entry, successor.entry_kind)
            if early is None:
                left_out.append((current.basket.stem, "a price is missing on the day the next basket was bought"))
                continue
            (returns, index_return), sold_on = early, successor.window.entry
        if not points:
            points.append(GrowthPoint(current.window.entry, "", following, index))
        weights = [h.weight for h in current.holdings]
        gross = sum(w * r for w, r in zip(weights, returns, strict=True))
        following = following * (1 + gross) - costs_at(following, weights, returns, cost_model).total
        index *= 1 + index_return
        points.append(GrowthPoint(sold_on, current.basket.stem, following, index))
    return points, left_out


def score_ledger(
    index: str,
    baskets: list[PublishedBasket],
    prices: Mapping[str, PriceSeries],
    calendar: NseCalendar,
    now: datetime,
    entry_kind: str = "open",
    cost_model: CostModel = ZERODHA,
) -> Ledger:
    """The ledger of one index's baskets (given oldest first)."""
    scores = [score_basket(b, prices, calendar, now, entry_kind, cost_model) for b in baskets]
    forecasts: list[ForecastScore] = []
    open_forecasts, missing = 0, []
    for basket in baskets:
        scored, still_open, lacking = score_forecasts(basket, prices, calendar, now)
        forecasts += scored
        open_forecasts += still_open
        missing += lacking
    points, left_out = growth(scores, prices, now, cost_model)
    return Ledger(index, scores, forecasts, open_forecasts, missing, points, left_out, cost_model)


def price_needs(baskets: list[PublishedBasket], calendar: NseCalendar, now: datetime) -> dict[str, tuple[date, date]]:
    """For every stock and index a final score needs: the first and last day of prices it reads."""
    needs: dict[str, tuple[date, date]] = {}

    def need(symbol: str, first: date, last: date) -> None:
        low, high = needs.get(symbol, (first, last))
        needs[symbol] = (min(low, first), max(high, last))

    for basket in baskets:
        span = window(calendar, basket.created, basket.horizon_days)
        if is_final(span.exit, now):
            for symbol in [*basket.weights, basket.index]:
                need(symbol, span.basis, span.exit)
        day = forecast_day(calendar, basket.created, basket.horizon_days, span.entry)
        if is_final(day, now):
            for forecast in basket.forecasts:
                need(forecast.symbol, span.basis, day)
    return needs
