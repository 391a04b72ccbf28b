#!/usr/bin/env python3
"""The rebalancer against the predecessor's rule, on generated accounts; prints one JSON line.

Every account is traded on the paper exchange (in this process) by both:
- ours: the exact whole-share plan, sells first, buys paid from the cash Kite shows, passes;
- the reference, the predecessor's rule: floor(deficit / price) per stock, sells then buys with
  no funds check, 1 s between orders, re-planned up to 10 times.
Measured, per account: residual deficit / rounding lower bound (each basket stock at its
nearest whole share, money no object) and residual / the exact optimum under the spending limit
(our planner from the starting account, T1 sale money unspendable; tests check it against brute
force). Rejected orders are counted under the old 20% sale-money block with T1 shares sold.
Orders per second is measured in real time with Kite's 10/s limit on, counting 429s; the
reference's 1 s pause is counted, not slept. Time moves by hand elsewhere: no real sleeping.
"""

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from niftybaskets.baskets import Basket, load_basket
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.market import IST, NseCalendar
from niftybaskets.paper.account_file import parse_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.rebalance.account import read_portfolio
from niftybaskets.rebalance.execute import OrderRecord, Rebalancer, RunMode, RunOptions
from niftybaskets.rebalance.plan import plan_rebalance, total_deficit

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE_BASKETS = [
    REPOSITORY / "examples" / "sample_basket.json",
    *sorted((REPOSITORY.parent / "shared" / "fixtures" / "baskets").glob("*.json")),
]
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=IST)


@dataclass
class Time:
    """Paused time: sleeping moves it on at once."""

    now: datetime = MONDAY
    elapsed: float = 0.0

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds

    def monotonic(self) -> float:
        return self.elapsed


@dataclass
class Case:
    user_id: str
    basket: Basket
    holdings: dict[str, int]
    t1: dict[str, int]
    cash: float
    results: dict = field(default_factory=dict)


def generate(count: int, seed: int, tmp: Path, t1_share: float) -> tuple[list[Case], dict[str, float]]:
    """Accounts and baskets; `t1_share` of the holdings are T1 shares (their sale money waits a day)."""
    rng = random.Random(seed)
    prices = {f"S{n:03d}": round(math.exp(rng.uniform(math.log(40), math.log(6000))), 2) for n in range(80)}
    samples = [load_basket(path) for path in SAMPLE_BASKETS if path.is_file()]
    for basket in samples:
        for symbol in basket.weights:
            prices.setdefault(symbol, round(math.exp(rng.uniform(math.log(40), math.log(6000))), 2))
    universe = sorted(prices)
    cases = []
    for n in range(count):
        if samples and n % 5 == 0:
            basket = samples[n // 5 % len(samples)]
        else:
            picked = rng.sample(universe, rng.choice([5, 10, 15, 20]))
            raw = [rng.uniform(0.5, 2) for _ in picked]
            path = tmp / f"basket{n}.json"
            path.write_text(json.dumps({"weights": {s: r / sum(raw) for s, r in zip(picked, raw, strict=True)}}))
            basket = load_basket(path)
        size = math.exp(rng.uniform(math.log(1e5), math.log(3e6)))
        held = rng.sample(universe, rng.randint(0, 12))
        holdings, t1 = {}, {}
        for symbol in held:
            quantity = max(1, int(size / len(held) * rng.uniform(0.3, 1.7) / prices[symbol]))
            if rng.random() < t1_share:
                t1[symbol] = rng.randint(1, quantity)
            if quantity - t1.get(symbol, 0):
                holdings[symbol] = quantity - t1.get(symbol, 0)
        cases.append(Case(f"U{n:03d}", basket, holdings, t1, round(size * rng.uniform(0.0, 0.3), 2)))
    return cases, prices


def exchange_for(cases: list[Case], prices: dict[str, float], prefix: str, db: Path, **rules) -> EmbeddedExchange:
    accounts = [
        {
            "user_id": f"{prefix}{case.user_id}",
            "api_key": "bench",
            "api_secret": "bench",
            "cash": case.cash,
            "holdings": case.holdings,
            "t1_holdings": case.t1,
        }
        for case in cases
    ]
    first, *rest = accounts
    setup = parse_account_file(
        yaml.safe_dump(
            {
                **first,
                "accounts": rest,
                "prices": prices,
                "rules": {
                    "market_hours": False,
                    "token_expiry": False,
                    "api_rate_limit": 0,
                    "quote_rate_limit": 0,
                    "order_rate_limit": 0,
                    "order_rate_limit_per_minute": 0,
                    **rules,
                },
            }
        )
    )
    paper = EmbeddedExchange(setup, db, clock=Time().clock)
    paper.__enter__()
    return paper


def ours(paper: EmbeddedExchange, case: Case, user_id: str) -> tuple[float, int, float]:
    """Our run: (residual deficit, rejected orders, optimum from the start)."""
    paused = Time()
    client = KiteClient(paper.login(user_id), RateLimiter(paused.monotonic, paused.sleep), sleep=paused.sleep)
    start = read_portfolio(client, case.basket.weights, None, lambda _: None)
    optimum = plan_rebalance(start, case.basket.weights).deficit_after
    result = Rebalancer(
        lambda: client,
        case.basket,
        RunOptions(mode=RunMode.PAPER, wait=False, cash_buffer=0.0),
        user_id=user_id,
        clock=paused.clock,
        sleep=paused.sleep,
        calendar=NseCalendar(),
        say=lambda _: None,
    ).run()
    rejected = sum(order.status in ("REJECTED", "FAILED") for order in result.orders)
    return result.deficit_after, rejected, optimum


def reference(paper: EmbeddedExchange, case: Case, user_id: str) -> tuple[float, int, int]:
    """The predecessor's rule: (residual deficit, rejected orders, orders sent)."""
    kite = paper.login(user_id)
    paused = Time()
    client = KiteClient(kite, RateLimiter(paused.monotonic, paused.sleep), sleep=paused.sleep)
    rejected = sent = 0
    for _ in range(10):
        portfolio = read_portfolio(client, case.basket.weights, None, lambda _: None)
        value = portfolio.total
        orders = []
        for symbol in sorted(set(case.basket.weights) | set(portfolio.quantities)):
            gap = case.basket.weights.get(symbol, 0) * value - portfolio.value_of(symbol)
            quantity = math.floor(abs(gap) / portfolio.prices[symbol])
            if gap < 0:
                quantity = min(quantity, portfolio.quantities.get(symbol, 0))
            if quantity:
                orders.append(("SELL" if gap < 0 else "BUY", symbol, quantity))
        if not orders:
            break
        for side, symbol, quantity in sorted(orders, key=lambda o: o[0] != "SELL"):
            sent += 1  # and, in the predecessor, a 1 s sleep
            try:
                kite.place_order("regular", "NSE", symbol, side, quantity, "CNC", "MARKET", market_protection=-1)
            except Exception:  # the rule has no error handling: a refusal is a rejection
                rejected += 1
    final = read_portfolio(client, case.basket.weights, None, lambda _: None)
    targets = {s: w * final.total for s, w in case.basket.weights.items()}
    return total_deficit(final.quantities, final.prices, targets), rejected, sent


def rounding_lower_bound(case: Case, prices: dict[str, float]) -> float:
    value = (
        case.cash
        + sum(q * prices[s] for s, q in {**case.holdings}.items())
        + sum(q * prices[s] for s, q in case.t1.items())
    )
    bound = 0.0
    for symbol, weight in case.basket.weights.items():
        target, price = weight * value, prices[symbol]
        below = math.floor(target / price) * price
        bound += min(target - below, below + price - target)
    return max(bound, 1.0)


def orders_per_second(prices: dict[str, float], db: Path, orders: int) -> tuple[float, int]:
    """Real time, Kite's limits on: a fresh account buying `orders` stocks in one pass."""
    symbols = sorted(prices)[:orders]
    setup = parse_account_file(
        yaml.safe_dump(
            {
                "api_key": "rate",
                "api_secret": "rate",
                "cash": 1e9,
                "prices": prices,
                "rules": {"market_hours": False, "token_expiry": False},
            }
        )
    )
    path = db.parent / "rate.json"
    path.write_text(json.dumps({"weights": {s: 1 / len(symbols) for s in symbols}}))
    sending: list[float] = []

    def timed(_run_id: str, order: OrderRecord) -> None:
        if order.status in ("NOT SENT", "SENT"):
            sending.append(time.perf_counter())

    with EmbeddedExchange(setup, db) as paper:
        client = KiteClient(paper.login())
        result = Rebalancer(
            lambda: client,
            load_basket(path),
            RunOptions(mode=RunMode.PAPER, wait=False, cash_buffer=0.0, max_passes=1),
            user_id="ZP0001",
            clock=lambda: MONDAY,
            sleep=time.sleep,
            calendar=NseCalendar(),
            say=lambda _: None,
            on_order=timed,
        ).run()
        return len(result.orders) / (sending[-1] - sending[0]), paper.exchange.refused_for_rate


def plan_ms_500x250(seed: int) -> float:
    rng = random.Random(seed)
    held = {f"H{i}": rng.randint(1, 100) for i in range(500)}
    prices = {s: rng.uniform(20, 4000) for s in held}
    targets = [f"H{i}" for i in range(0, 500, 4)] + [f"T{i}" for i in range(125)]
    for symbol in targets:
        prices.setdefault(symbol, rng.uniform(20, 4000))
    raw = [rng.uniform(0.5, 2) for _ in targets]
    weights = {s: r / sum(raw) for s, r in zip(targets, raw, strict=True)}
    portfolio = Portfolio(held, prices, cash=200000.0, blocked=0.0, settled=dict(held))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        plan_rebalance(portfolio, weights)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200, help="generated accounts (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a short smoke run for CI")
    args = parser.parse_args()
    count = 12 if args.quick else args.accounts
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # Residuals are measured with no sale money held back; rejections with the old 20% block
        # and T1 shares to sell.
        cases, prices = generate(count, args.seed, tmp, t1_share=0.0)
        blocked_cases = generate(max(4, count // 4), args.seed + 1, tmp, t1_share=0.5)[0]
        for case in blocked_cases:
            prices.update({s: prices.get(s) or 100.0 for s in case.basket.weights})
        ours_paper = exchange_for(cases, prices, "O", tmp / "ours.sqlite")
        theirs_paper = exchange_for(cases, prices, "R", tmp / "reference.sqlite")
        ours_blocked = exchange_for(
            blocked_cases, prices, "B", tmp / "blocked.sqlite", sale_proceeds="block_20_percent"
        )
        theirs_blocked = exchange_for(
            blocked_cases, prices, "C", tmp / "blocked-ref.sqlite", sale_proceeds="block_20_percent"
        )
        mine = {"residual": [], "optimum": [], "rejected": 0, "bound_gap": []}
        old = {"residual": [], "optimum": [], "rejected": 0, "sent": 0}
        for case in cases:
            bound = rounding_lower_bound(case, prices)
            residual, rejected, optimum = ours(ours_paper, case, f"O{case.user_id}")
            mine["residual"].append(residual / bound)
            mine["optimum"].append(residual / max(optimum, 1.0))
            mine["bound_gap"].append(max(optimum, 1.0) / bound)
            mine["rejected"] += rejected
            residual, rejected, sent = reference(theirs_paper, case, f"R{case.user_id}")
            old["residual"].append(residual / bound)
            old["optimum"].append(residual / max(optimum, 1.0))
            old["rejected"] += rejected
            old["sent"] += sent
        for case in blocked_cases:
            mine["rejected"] += ours(ours_blocked, case, f"B{case.user_id}")[1]
            old["rejected"] += reference(theirs_blocked, case, f"C{case.user_id}")[1]
        for paper in (ours_paper, theirs_paper, ours_blocked, theirs_blocked):
            paper.__exit__(None, None, None)
        rate, refused = orders_per_second(prices, tmp / "rate.sqlite", 30 if args.quick else 60)
    plan_ms = plan_ms_500x250(args.seed)
    print(
        json.dumps(
            {
                "residual_ratio_median": round(statistics.median(mine["residual"]), 4),
                "residual_ratio_p90": round(p90(mine["residual"]), 4),
                "optimum_ratio_median": round(statistics.median(mine["optimum"]), 4),
                # How far the exact optimum itself sits above the rounding bound: what the funds cost.
                "optimum_over_bound_p90": round(p90(mine["bound_gap"]), 4),
                "rejected_orders": mine["rejected"],
                "orders_per_second": round(rate, 2),
                "rate_limited_429": refused,
                "plan_ms_500x250": round(plan_ms, 1),
                "accounts": count,
                "quick": args.quick,
                "reference": {
                    "residual_ratio_median": round(statistics.median(old["residual"]), 4),
                    "residual_ratio_p90": round(p90(old["residual"]), 4),
                    "optimum_ratio_median": round(statistics.median(old["optimum"]), 4),
                    "rejected_orders": old["rejected"],
                    "orders_per_second": 1.0,  # its fixed 1 s pause between orders
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
