"""Real prices for paper trading, from NSE's quote API, when the network allows."""

from __future__ import annotations

import logging
import threading

import requests

from niftybaskets.paper.exchange import PaperExchange, PriceQuote, PriceSource
from niftybaskets.research.nse import NseClient, NseError

log = logging.getLogger(__name__)


def _number(value: object) -> float | None:
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        return None
    return number if number > 0 else None


def nse_price_source(client: NseClient) -> PriceSource:
    """Quotes for the symbols NSE answers; the others are left out (and logged), never invented."""

    def fetch(symbols: list[str]) -> dict[str, PriceQuote]:
        quotes = {}
        for symbol in symbols:
            try:
                info = client.quote_equity(symbol).get("priceInfo") or {}
            except (requests.RequestException, NseError) as error:
                log.warning("no live NSE price for %s: %s", symbol, error)
                continue
            last = _number(info.get("lastPrice"))
            if last is None:
                log.warning("NSE's quote for %s has no lastPrice", symbol)
                continue
            lower, upper = _number(info.get("lowerCP")), _number(info.get("upperCP"))
            circuit = (lower, upper) if lower and upper and lower < upper else None
            quotes[symbol] = PriceQuote(last, _number(info.get("previousClose")), circuit)
        return quotes

    return fetch


class PriceRefresher:
    """Refreshes every known symbol's price from `source` every `interval` seconds, on a thread."""

    def __init__(self, exchange: PaperExchange, source: PriceSource, interval: float) -> None:
        self.exchange = exchange
        self.source = source
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="price-refresher")

    def refresh(self) -> int:
        symbols = self.exchange.known_symbols()
        quotes = self.source(symbols)
        if quotes:
            self.exchange.set_prices(
                {
                    symbol: {
                        "last_price": quote.last_price,
                        "close_price": quote.close_price,
                        "lower_circuit": quote.circuit[0] if quote.circuit else None,
                        "upper_circuit": quote.circuit[1] if quote.circuit else None,
                    }
                    for symbol, quote in quotes.items()
                }
            )
        log.info("live prices: %d of %d symbols refreshed from NSE", len(quotes), len(symbols))
        return len(quotes)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # a bad cycle must not end the refreshing for good
                log.exception("live prices: the refresh failed; trying again in %g s", self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
