"""Reading the account for a rebalance: holdings, positions, funds, and a price for every stock."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kiteconnect import exceptions as kite_errors

from niftybaskets.errors import NiftyError
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.portfolio import KITE_SOURCE, Portfolio, value_portfolio
from niftybaskets.marketdata.chain import MarketData


class PriceError(NiftyError):
    """Some stocks have no price; the message names them."""


def read_portfolio(
    client: KiteClient,
    symbols: Iterable[str],
    market: MarketData | None,
    say: Callable[[str], None],
) -> Portfolio:
    """The account valued, with prices for `symbols` too: what is held carries Kite's last price;
    the rest comes from /quote/ltp, or from the market-data sources when the Kite plan has no
    market data. Each price keeps the name of its source."""
    portfolio = value_portfolio(client.holdings(), client.positions(), client.equity_margins())
    wanted = set(symbols)
    missing = sorted(symbol for symbol in wanted | set(portfolio.quantities) if not portfolio.prices.get(symbol, 0) > 0)
    if not missing:
        return portfolio
    prices: dict[str, float] = {}
    try:
        prices = client.last_prices(missing)
    except kite_errors.PermissionException:
        say("Kite refuses quotes on this plan (no market data); asking the market-data sources for the missing prices.")
    except kite_errors.InputException as error:
        say(f"Kite gave no prices for {', '.join(missing)}: {error}")
    sources = dict.fromkeys(prices, KITE_SOURCE)
    missing = [symbol for symbol in missing if symbol not in prices]
    refused: set[str] = set()
    if missing and market is not None:
        quotes = market.quotes(missing)
        for symbol, quote in quotes.found.items():
            prices[symbol] = quote.last_price
            sources[symbol] = quote.source
        missing = [symbol for symbol in missing if symbol not in prices]
        refused = {symbol for symbol in missing if quotes.refused(symbol)}
    unpriced_holdings = [symbol for symbol in missing if symbol not in wanted and symbol not in refused]
    if unpriced_holdings:
        # A suspended or delisted holding cannot be traded or valued; it must not block the rest.
        say(f"No price for {', '.join(unpriced_holdings)} (suspended?): left out of the value and not traded.")
        portfolio = portfolio.without(unpriced_holdings)
    # A holding a source refused to price may well trade: valuing the account without it would sell
    # or buy against a wrong total, so it stops the run like a basket stock.
    missing = [symbol for symbol in missing if symbol in wanted or symbol in refused]
    if missing:
        configured = ", ".join(p.name for p in market.providers) if market is not None else "none"
        raise PriceError(
            f"no price for {', '.join(missing)} from Kite or the market-data sources ({configured}): check the "
            "tickers, or try again when they answer"
        )
    return portfolio.with_prices(prices, sources)
