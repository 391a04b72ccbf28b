"""Several market-data providers asked in a configured order: the first that answers wins, and
every one that did not is reported with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from niftybaskets.config import ConfigError, Settings
from niftybaskets.marketdata.answers import Failure, MarketDataError, NotFound, Quote, SourceDown, UnexpectedAnswer
from niftybaskets.marketdata.niftyindices import NiftyIndicesClient
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.marketdata.yahoo import YahooClient

# What to do when a source fails, by source.
NEXT_STEP = {
    "nse": "NSE blocks some networks (cloud machines among them) and busy clients: run again later or from "
    "another network",
    "niftyindices": "check the index name against niftyindices.com, or try again later",
    "yahoo": "Yahoo limits busy clients: try again in a few minutes",
}
UNREADABLE_LIMIT = 2  # answers a source gives that we cannot read, before it is not asked again


@runtime_checkable
class ConstituentSource(Protocol):
    name: str

    def index_constituents(self, index: str) -> list[dict]: ...


@runtime_checkable
class QuoteSource(Protocol):
    name: str

    def quote(self, symbol: str) -> Quote: ...


Provider = NseClient | NiftyIndicesClient | YahooClient
PROVIDERS = ("nse", "niftyindices", "yahoo")


def provider(settings: Settings, name: str) -> Provider:
    unexpected_dir = settings.unexpected_dir
    if name == "nse":
        return NseClient(settings.nse_base_url, unexpected_dir=unexpected_dir)
    if name == "niftyindices":
        return NiftyIndicesClient(settings.nifty_indices_base_url, unexpected_dir=unexpected_dir)
    if name == "yahoo":
        return YahooClient(settings.yahoo_base_url, unexpected_dir=unexpected_dir)
    raise ConfigError(
        f"MARKET_DATA_SOURCES names {name!r}: the sources are {', '.join(PROVIDERS)} (comma-separated, in the "
        "order to ask them)"
    )


def providers_from_settings(settings: Settings) -> list[Provider]:
    """The providers MARKET_DATA_SOURCES names, in its order."""
    return [provider(settings, name) for name in dict.fromkeys(settings.market_data_sources)]


def failure_text(failures: Iterable[Failure]) -> str:
    """Each failure with its source, and for a refusal what to do about it."""
    return "; ".join(
        f"{failure} ({NEXT_STEP.get(failure.source, 'try again later')})" if failure.refused else str(failure)
        for failure in failures
    )


@dataclass
class Quotes:
    found: dict[str, Quote]
    unpriced: dict[str, list[Failure]]  # symbol -> why each source gave no price

    def refused(self, symbol: str) -> bool:
        """Whether a source refused rather than said it has no price: the price may well exist."""
        return any(failure.refused for failure in self.unpriced.get(symbol, []))


class MarketData:
    def __init__(self, providers: Sequence[object], say: Callable[[str], None] = lambda message: None) -> None:
        self.providers = list(providers)
        self.say = say

    @classmethod
    def from_settings(cls, settings: Settings, say: Callable[[str], None] = lambda message: None) -> MarketData:
        return cls(providers_from_settings(settings), say)

    def constituents(self, index: str) -> tuple[list[dict], str]:
        """The index's stocks and the source of the list. A list without prices (NSE Indices' files)
        is priced through `quotes`: a stock no source has a price for stays in it unpriced (it is not
        researched), but a price a source refused to give makes the whole list fail over to the next
        source, so that a refusal never shrinks the index."""
        failures = []
        for provider in self.providers:
            if not isinstance(provider, ConstituentSource):
                continue
            try:
                stocks = provider.index_constituents(index)
                stocks = self._priced(provider.name, index, stocks)
            except MarketDataError as error:
                failure = Failure(provider.name, str(error), refused=not isinstance(error, NotFound))
                failures.append(failure)
                self.say(f"Warning: {failure_text([failure])}.")
                continue
            return stocks, provider.name
        if not failures:
            raise MarketDataError(
                "no source of index lists is configured: add nse or niftyindices to MARKET_DATA_SOURCES"
            )
        raise MarketDataError(f"no source listed the index {index!r}: {failure_text(failures)}")

    def _priced(self, source: str, index: str, stocks: list[dict]) -> list[dict]:
        unpriced = [stock["symbol"] for stock in stocks if not stock["last_price"] > 0]
        if not unpriced:
            return stocks
        self.say(f"{source} lists {len(stocks)} stocks of {index} without prices; asking for them...")
        quotes = self.quotes(unpriced)
        refused = [symbol for symbol in unpriced if quotes.refused(symbol)]
        if refused:
            raise MarketDataError(f"the quote sources refused the prices of {len(refused)} of its stocks")
        return [
            {**stock, "last_price": quote.last_price, "previous_close": quote.previous_close}
            if (quote := quotes.found.get(stock["symbol"]))
            else stock
            for stock in stocks
        ]

    def quotes(self, symbols: Iterable[str]) -> Quotes:
        """A quote for every symbol some source prices. A source that refuses is not asked again in
        this call (nor one that twice answered what we cannot read); each symbol left unpriced is
        reported with every source's reason."""
        result = Quotes({}, {})
        down: dict[str, str] = {}
        unreadable: dict[str, int] = {}
        sources = [provider for provider in self.providers if isinstance(provider, QuoteSource)]
        for symbol in dict.fromkeys(symbols):
            reasons = []
            for provider in sources:
                if provider.name in down:
                    reasons.append(Failure(provider.name, f"not asked again ({down[provider.name]})"))
                    continue
                try:
                    result.found[symbol] = provider.quote(symbol)
                    break
                except NotFound as error:
                    reasons.append(Failure(provider.name, str(error), refused=False))
                except MarketDataError as error:
                    failure = Failure(provider.name, str(error))
                    reasons.append(failure)
                    unreadable[provider.name] = unreadable.get(provider.name, 0) + 1
                    if not isinstance(error, UnexpectedAnswer) or unreadable[provider.name] >= UNREADABLE_LIMIT:
                        down[provider.name] = "it refused" if isinstance(error, SourceDown) else "unreadable answers"
                        self.say(f"Warning: {failure_text([failure])}; asking the next source.")
            if symbol not in result.found:
                result.unpriced[symbol] = reasons
                self.say(f"No price for {symbol}: {'; '.join(map(str, reasons)) or 'no price source is configured'}.")
        return result
