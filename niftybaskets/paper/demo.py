"""The quick-start demo: trade a sample basket on a paper account, through the real kiteconnect SDK.

It starts the paper exchange in this process, logs in through its /connect/login page, values the
account, sells what the basket does not hold, buys toward the basket's weights in whole shares,
and shows the account before and after. Until the rebalancer lands this is the main job of run.sh;
its sizing is the simple rounding rule, not the rebalancer's exact plan.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from kiteconnect import KiteConnect
from rich.console import Console
from rich.table import Table

from niftybaskets.kite.portfolio import Portfolio, value_portfolio
from niftybaskets.paper.account_file import load_account_file
from niftybaskets.paper.embedded import EmbeddedExchange

FINAL_STATUSES = ("COMPLETE", "REJECTED", "CANCELLED")


class Spaced:
    """A KiteConnect whose calls are at least `interval` apart: Kite allows 10 requests a second
    (quotes: 1), and the paper exchange enforces it."""

    def __init__(self, kite: KiteConnect, interval: float = 0.11) -> None:
        self._kite = kite
        self._interval = interval
        self._last = 0.0

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._kite, name)
        if not callable(attribute):
            return attribute

        def spaced(*args: object, **kwargs: object) -> object:
            wait = self._last + self._interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return attribute(*args, **kwargs)
            finally:
                self._last = time.monotonic()

        return spaced


def read_demo_basket(path: Path) -> dict[str, float]:
    """The sample basket's weights ({"stocks": [{"stock_ticker", "weight"}]}, the published shape)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {entry["stock_ticker"].upper(): float(entry["weight"]) for entry in data["stocks"]}


def read_portfolio(kite: KiteConnect) -> Portfolio:
    return value_portfolio(kite.holdings(), kite.positions(), kite.margins("equity"))


def deficit(portfolio: Portfolio, weights: dict[str, float]) -> float:
    symbols = set(weights) | set(portfolio.quantities)
    return sum(abs(weights.get(s, 0.0) * portfolio.total - portfolio.value_of(s)) for s in symbols)


def show(console: Console, title: str, portfolio: Portfolio, weights: dict[str, float]) -> None:
    table = Table(title=title)
    for column in ("stock", "shares", "price", "value", "weight", "target"):
        table.add_column(column, justify="left" if column == "stock" else "right")
    for symbol in sorted(set(weights) | set(portfolio.quantities)):
        value = portfolio.value_of(symbol)
        table.add_row(
            symbol,
            str(portfolio.quantities.get(symbol, 0)),
            f"{portfolio.prices.get(symbol, 0):,.2f}",
            f"{value:,.0f}",
            f"{value / portfolio.total:.1%}",
            f"{weights.get(symbol, 0):.1%}",
        )
    console.print(table)
    off = deficit(portfolio, weights)
    console.print(
        f"cash ₹{portfolio.cash:,.0f}, awaiting settlement ₹{portfolio.blocked:,.0f}, total ₹{portfolio.total:,.0f}; "
        f"total deficit ₹{off:,.0f} ({off / portfolio.total:.1%} of the portfolio)\n"
    )


def wait_for(kite: KiteConnect, order_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        last = kite.order_history(order_id)[-1]
        if last["status"] in FINAL_STATUSES or time.monotonic() > deadline:
            return last


def trade(kite: KiteConnect, symbol: str, side: str, quantity: int) -> dict:
    order_id = kite.place_order(
        variety=kite.VARIETY_REGULAR,
        exchange=kite.EXCHANGE_NSE,
        tradingsymbol=symbol,
        transaction_type=side,
        quantity=quantity,
        product=kite.PRODUCT_CNC,
        order_type=kite.ORDER_TYPE_MARKET,
        market_protection=-1,
        tag="nbdemo",
    )
    return wait_for(kite, order_id)


def run_demo(account: Path, basket: Path, db: Path, console: Console) -> int:
    setup = load_account_file(account)
    weights = read_demo_basket(basket)
    with EmbeddedExchange(setup, db, reset=True) as paper:
        console.print(f"Paper exchange started at {paper.url} with the account in {account}")
        kite = Spaced(paper.login())
        console.print(f"Logged in as {kite.profile()['user_id']} through /connect/login and generate_session\n")
        before = read_portfolio(kite)
        show(console, f"Before: basket {basket.name}", before, weights)

        orders = Table(title="Orders (MARKET, CNC, market_protection=-1)")
        for column in ("stock", "side", "shares", "status", "average price"):
            orders.add_column(column)

        def record(symbol: str, side: str, quantity: int) -> None:
            result = trade(kite, symbol, side, quantity)
            message = f" ({result['status_message']})" if result["status_message"] else ""
            orders.add_row(symbol, side, str(quantity), result["status"] + message, f"{result['average_price']:,.2f}")

        # Sell first: the buys are paid for with what the sales free.
        for symbol, held in sorted(before.quantities.items()):
            excess = math.floor(
                (before.value_of(symbol) - weights.get(symbol, 0) * before.total) / before.prices[symbol]
            )
            if weights.get(symbol, 0) == 0:
                excess = held
            if excess > 0:
                record(symbol, "SELL", min(excess, held))
        after_sales = read_portfolio(kite)
        prices = kite.ltp([f"NSE:{symbol}" for symbol in weights])
        for symbol, weight in sorted(weights.items(), key=lambda item: -item[1]):
            price = prices[f"NSE:{symbol}"]["last_price"]
            wanted = math.floor((weight * after_sales.total - after_sales.value_of(symbol)) / price)
            affordable = math.floor(after_sales.cash / price)
            quantity = min(wanted, affordable)
            if quantity > 0:
                record(symbol, "BUY", quantity)
                after_sales = read_portfolio(kite)
        console.print(orders)
        after = read_portfolio(kite)
        show(console, "After", after, weights)
    console.print(f"The paper account is kept in {db}; run scripts/paper_exchange.py to keep trading on one.")
    return 0
