"""What an account is worth, from Kite's holdings, positions and margins answers (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from niftybaskets.kite.wire import PRODUCT

KITE_SOURCE = "kite"


@dataclass(frozen=True)
class Portfolio:
    quantities: dict[str, int]  # shares owned per symbol: settled + T1 + today's net CNC trades
    prices: dict[str, float]
    cash: float  # margins equity.net: what can be spent now
    blocked: float  # sale money held back until settlement (utilised.delivery): value, not spendable
    # Settled demat shares not yet sold today: selling them credits money today (T1 shares do not).
    settled: dict[str, int] = field(default_factory=dict)
    # Who gave each price: "kite" (holdings, positions, /quote/ltp), or the market-data source.
    price_sources: dict[str, str] = field(default_factory=dict)

    @property
    def stock_value(self) -> float:
        return sum(quantity * self.prices[symbol] for symbol, quantity in self.quantities.items())

    @property
    def total(self) -> float:
        return self.stock_value + self.cash + self.blocked

    def value_of(self, symbol: str) -> float:
        return self.quantities.get(symbol, 0) * self.prices.get(symbol, 0.0)

    def with_prices(self, prices: Mapping[str, float], sources: Mapping[str, str]) -> Portfolio:
        return replace(self, prices={**self.prices, **prices}, price_sources={**self.price_sources, **sources})

    def without(self, symbols: Iterable[str]) -> Portfolio:
        gone = set(symbols)
        return replace(
            self,
            quantities={s: q for s, q in self.quantities.items() if s not in gone},
            settled={s: q for s, q in self.settled.items() if s not in gone},
        )


def value_portfolio(holdings: list[Mapping], positions: Mapping, equity_margins: Mapping) -> Portfolio:
    """Holdings + net CNC positions + funds, each share counted once.

    Kite keeps a share sold today in holdings (as used_quantity) and shows the sale as a negative
    CNC position, and shows today's buys only in positions: adding the two counts every share once.
    Funds reserved by open buy orders are in neither; value the account when no order is open.
    """
    quantities: dict[str, int] = {}
    prices: dict[str, float] = {}
    settled: dict[str, int] = {}
    for holding in holdings:
        symbol = holding["tradingsymbol"]
        quantities[symbol] = quantities.get(symbol, 0) + holding["quantity"] + holding["t1_quantity"]
        prices[symbol] = holding["last_price"]
        # Today's sales draw on settled shares first (used_quantity counts them).
        free = holding["quantity"] - holding.get("used_quantity", 0)
        settled[symbol] = settled.get(symbol, 0) + max(0, free)
    for position in positions.get("net", []):
        if position["product"] != PRODUCT:
            continue
        symbol = position["tradingsymbol"]
        quantities[symbol] = quantities.get(symbol, 0) + position["quantity"]
        prices[symbol] = position["last_price"]
    return Portfolio(
        quantities={symbol: quantity for symbol, quantity in quantities.items() if quantity},
        prices=prices,
        cash=float(equity_margins["net"]),
        blocked=float(equity_margins.get("utilised", {}).get("delivery", 0) or 0),
        settled={symbol: count for symbol, count in settled.items() if count > 0},
        price_sources=dict.fromkeys(prices, KITE_SOURCE),
    )
