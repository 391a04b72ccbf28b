"""Yahoo Finance's chart API through `requests`: last prices and daily history of NSE stocks and indices.

yfinance itself talks to Yahoo through curl_cffi with Yahoo's addresses built in, so it cannot be
pointed at a local stand-in for tests; this client asks the same chart route yfinance asks for
history (`/v8/finance/chart/{ticker}`), with an overridable base URL. Yahoo's daily prices are
adjusted for splits and bonuses (not for dividends), so they need no corporate-action factors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from urllib.parse import quote

import requests

from niftybaskets.market import IST
from niftybaskets.marketdata.answers import NotFound, Quote, SourceDown, WebSource, number, positive

SOURCE = "yahoo"
DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
CHART = "/v8/finance/chart/"
CURRENCY = "INR"
STALE_AFTER = timedelta(days=5)  # NSE's longest break is four days
# Yahoo's tickers of NSE's indices; a stock is SYMBOL.NS.
INDEX_TICKERS = {
    "NIFTY 50": "^NSEI",
    "NIFTY BANK": "^NSEBANK",
    "NIFTY NEXT 50": "^NSMIDCP",
    "NIFTY 500": "^CRSLDX",
    "NIFTY MIDCAP 150": "NIFTYMIDCAP150.NS",
    "NIFTY SMALLCAP 250": "NIFTYSMLCAP250.NS",
    "NIFTY SMALLCAP 100": "^CNXSC",
}


def ticker(symbol: str, is_index: bool = False) -> str | None:
    if is_index:
        return INDEX_TICKERS.get(symbol.upper())
    return f"{symbol}.NS"


class YahooClient(WebSource):
    name = SOURCE
    title = "Yahoo"
    default_base_url = DEFAULT_BASE_URL
    limits = ((2, 1.0), (60, 60.0))  # Yahoo answers 429 to clients that hurry

    def __init__(self, *args: Any, now: Callable[[], float] = time.time, **options: Any) -> None:
        super().__init__(*args, **options)
        self.now = now

    def _chart(self, symbol: str, is_index: bool, params: dict[str, str]) -> tuple[dict, requests.Response]:
        name = ticker(symbol, is_index)
        if name is None:
            raise NotFound(f"Yahoo's ticker for the index {symbol!r} is not known here")
        response = self.get(f"{self.base_url}{CHART}{quote(name, safe='')}", params=params)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        chart = body.get("chart") if isinstance(body, dict) else None
        error = chart.get("error") if isinstance(chart, dict) else None
        code = error.get("code") if isinstance(error, dict) else error
        if code == "Not Found":  # Yahoo's answer for a ticker it does not have (HTTP 404)
            description = error.get("description") if isinstance(error, dict) else None
            raise NotFound(f"Yahoo has no {name}: {description or code}")
        if response.status_code != 200:
            raise SourceDown(f"Yahoo answered HTTP {response.status_code} for {name}")
        try:
            result = chart["result"][0]
            if not isinstance(result, dict):
                raise TypeError("chart.result[0] is not an object")
        except (KeyError, TypeError, IndexError):
            raise self.unexpected(response, "no chart.result") from None
        return result, response

    def quote(self, symbol: str) -> Quote:
        """The last price and the previous close (Yahoo gives no circuit band). A price in another
        currency than rupees (a ticker Yahoo gives to another listing) or days old is refused."""
        result, response = self._chart(symbol, False, {"range": "1d", "interval": "1d"})
        meta = result.get("meta")
        if not isinstance(meta, dict):
            raise self.unexpected(response, "no chart.result[0].meta")
        currency = meta.get("currency")
        if currency not in (None, CURRENCY):
            raise NotFound(f"Yahoo prices {ticker(symbol)} in {currency}, not {CURRENCY}")
        traded = number(meta.get("regularMarketTime"))
        if traded is not None and traded < self.now() - STALE_AFTER.total_seconds():
            when = datetime.fromtimestamp(traded, UTC).astimezone(IST)
            raise NotFound(f"Yahoo's last price for {symbol} is from {when:%d %b %Y}: too old to trade on")
        last = positive(meta.get("regularMarketPrice"))
        if last is None:
            raise NotFound(f"Yahoo has no last price for {symbol}")
        previous = positive(meta.get("previousClose")) or positive(meta.get("chartPreviousClose"))
        return Quote(symbol, last, SOURCE, previous)

    def daily_history(self, symbol: str, first: date, last: date, is_index: bool) -> list[dict]:
        """Daily rows {day, open, close} from `first` to `last`, adjusted for splits and bonuses."""
        start = datetime.combine(first, dt_time(), IST)
        end = datetime.combine(last + timedelta(days=1), dt_time(), IST)
        params = {
            "period1": str(int(start.timestamp())),
            "period2": str(int(end.timestamp())),
            "interval": "1d",
            "events": "div,splits",
            "includeAdjustedClose": "true",
        }
        result, response = self._chart(symbol, is_index, params)
        try:
            stamps = result.get("timestamp") or []  # no key at all when the range holds no session
            prices = result["indicators"]["quote"][0] if stamps else {}
            opens, closes = prices.get("open") or [], prices.get("close") or []
            rows: dict[date, dict] = {}
            for position, stamp in enumerate(stamps):
                day = datetime.fromtimestamp(int(stamp), UTC).astimezone(IST).date()
                close = number(closes[position]) if position < len(closes) else None
                if close is None or not first <= day <= last:
                    continue  # Yahoo sends null prices for a session it has no trades for
                open_ = number(opens[position]) if position < len(opens) else None
                rows[day] = {"day": day, "open": open_, "close": close}
        except (KeyError, TypeError, IndexError, ValueError, OverflowError, AttributeError) as error:
            raise self.unexpected(response, f"{type(error).__name__}: {error}") from None
        return list(rows.values())
