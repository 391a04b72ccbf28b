"""Real prices for paper trading, from the market-data sources (NSE, then Yahoo), when the network allows."""

from __future__ import annotations

import logging
import threading

from niftybaskets.marketdata.chain import MarketData
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.market_data import PriceQuote, PriceSource

log = logging.getLogger(__name__)


def market_price_source(market: MarketData) -> PriceSource:
    """Quotes for the symbols some market-data source answers (with NSE's circuit band where it
    gives one); the others are left out, never invented."""

    def fetch(symbols: list[str]) -> dict[str, PriceQuote]:
        quotes = market.quotes(symbols).found
        for symbol in sorted(set(symbols) - set(quotes)):
            log.warning("no live price for %s", symbol)
        return {
            symbol: PriceQuote(
                quote.last_price,
                quote.previous_close,
                (quote.lower_circuit, quote.upper_circuit) if quote.lower_circuit and quote.upper_circuit else None,
            )
            for symbol, quote in quotes.items()
        }

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
        log.info("live prices: %d of %d symbols refreshed", len(quotes), len(symbols))
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
