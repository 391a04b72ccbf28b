"""Reading the account for a rebalance: holdings, positions, funds, and a price for every stock."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.portfolio import Portfolio, value_portfolio
from niftybaskets.research.nse import NseClient, NseError


class PriceError(RuntimeError):
    """Some stocks have no price; the message names them."""


def read_portfolio(
    client: KiteClient,
    symbols: Iterable[str],
    nse: NseClient | None,
    say: Callable[[str], None],
) -> Portfolio:
    """The account valued, with prices for `symbols` too: what is held carries Kite's last price;
    the rest comes from /quote/ltp, or from NSE when the Kite plan has no market data."""
    portfolio = value_portfolio(client.holdings(), client.positions(), client.equity_margins())
    wanted = set(symbols)
    missing = sorted(symbol for symbol in wanted | set(portfolio.quantities) if not portfolio.prices.get(symbol, 0) > 0)
    if not missing:
        return portfolio
    prices: dict[str, float] = {}
    try:
        prices = client.last_prices(missing)
    except kite_errors.PermissionException:
        say("Kite refuses quotes on this plan (no market data); taking the missing prices from NSE.")
    except kite_errors.InputException as error:
        say(f"Kite gave no prices for {', '.join(missing)}: {error}")
    missing = [symbol for symbol in missing if symbol not in prices]
    if missing and nse is not None:
        prices.update(nse_last_prices(nse, missing, say))
        missing = [symbol for symbol in missing if symbol not in prices]
    unpriced_holdings = [symbol for symbol in missing if symbol not in wanted]
    if unpriced_holdings:
        # A suspended or delisted holding cannot be traded or valued; it must not block the rest.
        say(f"No price for {', '.join(unpriced_holdings)} (suspended?): left out of the value and not traded.")
        portfolio = portfolio.without(unpriced_holdings)
    missing = [symbol for symbol in missing if symbol in wanted]
    if missing:
        raise PriceError(f"no price for {', '.join(missing)}: check the tickers, or try again when Kite or NSE answers")
    return portfolio.with_prices(prices)


def nse_last_prices(nse: NseClient, symbols: list[str], say: Callable[[str], None]) -> dict[str, float]:
    prices = {}
    for symbol in symbols:
        try:
            last = (nse.quote_equity(symbol).get("priceInfo") or {}).get("lastPrice")
        except (requests.RequestException, NseError) as error:
            say(f"NSE gave no price for {symbol}: {error}")
            continue
        if isinstance(last, (int, float)) and last > 0:
            prices[symbol] = float(last)
    return prices
