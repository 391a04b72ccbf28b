"""NSE's public JSON API through `requests`, with the browser-like headers and cookie warm-up it wants.

NSE answers its API only to clients that first loaded one of its pages (which sets session
cookies) and that send a browser's headers with a matching Referer. NSE moves its routes (in 2026:
the index list, the quote and the history routes): each call tries today's route first and the
previous one after it, since NSE sometimes keeps answering an old route for a while.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import requests

from niftybaskets.config import DEFAULT_NSE_BASE_URL
from niftybaskets.market import IST
from niftybaskets.marketdata.answers import (
    MarketDataError,
    NotFound,
    Quote,
    SourceDown,
    UnexpectedAnswer,
    WebSource,
    number,
    positive,
)

SOURCE = "nse"

# Today's routes first, then the ones they replaced. The index list moved in May 2026 (the old
# route answers 404), the quote in June 2026 (the old one answers Akamai's 403), the history
# routes to historicalOR.
INDEX_CONSTITUENTS = ("/api/equity-stock-indices", "/api/equity-stockIndices")
QUOTE = "/api/NextApi/apiClient/GetQuoteApi"
OLD_QUOTE = "/api/quote-equity"
EQUITY_HISTORY = ("/api/historicalOR/cm/equity", "/api/historical/cm/equity")
INDEX_HISTORY = ("/api/historicalOR/indicesHistory", "/api/historical/indicesHistory")
CORPORATE_ACTIONS = "/api/corporates-corporateActions"
INDEX_PAGE = "/market-data/live-equity-market"
QUOTE_PAGE = "/get-quotes/equity"
EQUITY_HISTORY_PAGE = "/report-detail/eq_security"
INDEX_HISTORY_PAGE = "/reports-indices-historical-index-data"
CORPORATE_ACTIONS_PAGE = "/companies-listing/corporate-filings-actions"
NSE_DATE = "%d-%m-%Y"
EQUITY_SERIES = "EQ"


def trade_day(row: dict, day_field: str, *instant_fields: str) -> date:
    """The session a history row belongs to. NSE writes it as "05-Aug-2024" (or "05-AUG-2024");
    its timestamps are UTC instants of the IST midnight starting the session ("2024-08-04T18:30:00.000Z"),
    so their first ten characters name the day before."""
    if row.get(day_field):
        return datetime.strptime(str(row[day_field]), "%d-%b-%Y").date()
    for name in instant_fields:
        value = str(row.get(name) or "")
        if len(value) == 10:
            return date.fromisoformat(value)
        if value:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(IST).date()
    raise KeyError(day_field)


def constituent(row: dict) -> dict:
    """One stock of an index list. The old route kept the company under `meta`; the fields the
    forecast prompt does not strictly need may be missing (None)."""
    meta = row.get("meta") or {}
    return {
        "symbol": str(row["symbol"]),
        "company": meta.get("companyName") or row.get("companyName") or row["symbol"],
        "industry": meta.get("industry") or row.get("industry") or "unknown",
        "last_price": number(row.get("lastPrice")) or 0.0,
        "previous_close": number(row.get("previousClose")),
        "day_low": number(row.get("dayLow")),
        "day_high": number(row.get("dayHigh")),
        "year_low": number(row.get("yearLow")),
        "year_high": number(row.get("yearHigh")),
        "volume": number(row.get("totalTradedVolume")),
        "change_30d": number(row.get("perChange30d")),
        "change_365d": number(row.get("perChange365d")),
    }


def price_band(text: object) -> tuple[float | None, float | None]:
    """NSE's circuit band as "242.55-296.35"; "No Band" (or nothing) for none."""
    low, _, high = str(text or "").partition("-")
    lower, upper = positive(low), positive(high)
    return (lower, upper) if lower and upper and lower < upper else (None, None)


class NseClient(WebSource):
    name = SOURCE
    title = "NSE"
    default_base_url = DEFAULT_NSE_BASE_URL
    # NSE publishes no limit; it blocks clients that hurry. Every request counts, page loads too.
    limits = ((2, 1.0), (60, 60.0))

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._warmed_up: set[str] = set()
        self._gone: set[str] = set()  # routes that answered 404: not asked again by this client

    def _get(self, path: str, referer_path: str) -> requests.Response:
        route = path.partition("?")[0]
        if route in self._gone:
            raise SourceDown(f"NSE answered HTTP 404 for {route} earlier: the route is gone")
        referer = f"{self.base_url}{referer_path}"
        with self.lock:  # the cookies of one warm-up serve the request after it
            for attempt in range(2):
                if referer not in self._warmed_up or attempt:
                    self.get(referer)
                    self._warmed_up.add(referer)
                response = self.get(f"{self.base_url}{path}", headers={"Referer": referer})
                if response.status_code in (401, 403) and attempt == 0:
                    continue  # the cookies went stale: load the page again
                break
        if response.status_code == 404:
            # A route NSE answers 404 is gone (NSE moved it), not a symbol it lacks: those answer 200.
            self._gone.add(route)
            raise SourceDown(f"NSE answered HTTP 404 for {route}: the route is gone (NSE moves its routes)")
        if response.status_code != 200:
            blocked = " (Akamai's Access Denied: NSE blocks this network)" if "Access Denied" in response.text else ""
            raise SourceDown(f"NSE answered HTTP {response.status_code} for {route}{blocked}")
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self.unexpected(response, "not JSON") from None

    def _parsed(self, response: requests.Response, parse: Callable[[Any], Any]) -> Any:
        data = self._json(response)
        try:
            return parse(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise self.unexpected(response, f"{type(error).__name__}: {error}") from None

    def _first_route(self, attempts: Iterator[Callable[[], Any]]) -> Any:
        """The first route that answers. A route that answered "nothing for that" ends the search (an
        older route knows no more); when none answers, every route's error, as an answer not
        understood if one was, else as a refusal."""
        errors: list[MarketDataError] = []
        for attempt in attempts:
            try:
                return attempt()
            except (SourceDown, UnexpectedAnswer) as error:
                errors.append(error)
        kind = UnexpectedAnswer if any(isinstance(error, UnexpectedAnswer) for error in errors) else SourceDown
        raise kind("; then ".join(str(error) for error in errors))

    def index_constituents(self, index: str) -> list[dict]:
        """The index's stocks with today's quote fields (suspended ones, without a price, left out)."""
        encoded = quote(index, safe="")

        def parse(data: dict) -> list[dict]:
            rows = data["data"]
            if not isinstance(rows, list):
                raise TypeError("data is not a list")
            stocks = [
                constituent(row)
                for row in rows
                if row.get("priority", 0) == 0 and row.get("symbol") and row["symbol"] != index
            ]
            return [stock for stock in stocks if stock["last_price"] > 0]

        def ask(route: str) -> list[dict]:
            response = self._get(f"{route}?index={encoded}", f"{INDEX_PAGE}?symbol={encoded}")
            stocks = self._parsed(response, parse)
            if not stocks:
                raise NotFound(f"NSE listed no priced stocks for the index {index!r} at {route}")
            return stocks

        return self._first_route(lambda route=route: ask(route) for route in INDEX_CONSTITUENTS)

    def quote(self, symbol: str) -> Quote:
        """The stock's last price, previous close and circuit band."""
        encoded = quote(symbol, safe="")
        page = f"{QUOTE_PAGE}?symbol={encoded}"

        def parse_current(data: dict) -> Quote | None:
            entries = data["equityResponse"]
            if not entries:
                return None
            entry = entries[0]
            book, trade, meta = entry.get("orderBook") or {}, entry.get("tradeInfo") or {}, entry["metaData"]
            # After the close NSE sets closePrice, the official close, which can differ from the last
            # trade; it is 0 while the market is open.
            last = (
                positive(meta.get("closePrice")) or positive(book.get("lastPrice")) or positive(trade.get("lastPrice"))
            )
            if last is None:
                return None
            lower, upper = price_band((entry.get("priceInfo") or {}).get("priceBand"))
            return Quote(symbol, last, SOURCE, positive(meta.get("previousClose")), lower, upper)

        def parse_old(data: dict) -> Quote | None:
            info = data["priceInfo"]
            last = positive(info.get("lastPrice"))
            if last is None:
                return None
            lower, upper = positive(info.get("lowerCP")), positive(info.get("upperCP"))
            if not (lower and upper and lower < upper):
                lower = upper = None
            return Quote(symbol, last, SOURCE, positive(info.get("previousClose")), lower, upper)

        def ask(path: str, parse: Callable[[dict], Quote | None]) -> Quote:
            found = self._parsed(self._get(path, page), parse)
            if found is None:
                raise NotFound(f"NSE has no last price for {symbol}")
            return found

        current = f"{QUOTE}?functionName=getSymbolData&marketType=N&series={EQUITY_SERIES}&symbol={encoded}"
        return self._first_route(
            iter([lambda: ask(current, parse_current), lambda: ask(f"{OLD_QUOTE}?symbol={encoded}", parse_old)])
        )

    def equity_history(self, symbol: str, first: date, last: date) -> list[dict]:
        """Daily rows {day, open, close, previous_close} of the stock's EQ series, as traded (not
        adjusted for splits or bonuses), one per session."""

        def parse(data: dict) -> list[dict]:
            rows: dict[date, dict] = {}
            for row in data["data"]:
                if row.get("CH_SERIES", EQUITY_SERIES) != EQUITY_SERIES:
                    continue  # a T0 (same-day settlement) row beside the EQ one
                day = trade_day(row, "mTIMESTAMP", "CH_TIMESTAMP", "TIMESTAMP")
                rows.setdefault(
                    day,
                    {
                        "day": day,
                        "open": number(row.get("CH_OPENING_PRICE")),
                        "close": number(row.get("CH_CLOSING_PRICE")),
                        "previous_close": number(row.get("CH_PREVIOUS_CLS_PRICE")),
                    },
                )
            return list(rows.values())

        query = f"?symbol={quote(symbol, safe='')}&series=[%22EQ%22]&from={first:{NSE_DATE}}&to={last:{NSE_DATE}}"
        return self._first_route(
            (lambda route=route: self._parsed(self._get(route + query, EQUITY_HISTORY_PAGE), parse))
            for route in EQUITY_HISTORY
        )

    def index_history(self, index: str, first: date, last: date) -> list[dict]:
        """Daily rows {day, open, close} of an index (NSE's name, e.g. NIFTY SMALLCAP 250)."""

        def parse(data: dict) -> list[dict]:
            records = data["data"]
            if isinstance(records, dict):  # the old route: {"indexCloseOnlineRecords": [...], ...}
                records = records["indexCloseOnlineRecords"]
            rows: dict[date, dict] = {}
            for row in records:
                day = trade_day(row, "EOD_TIMESTAMP", "HI_TIMESTAMP", "TIMESTAMP")
                rows.setdefault(
                    day,
                    {
                        "day": day,
                        "open": number(row.get("EOD_OPEN_INDEX_VAL")),
                        "close": number(row.get("EOD_CLOSE_INDEX_VAL")),
                    },
                )
            return list(rows.values())

        query = f"?indexType={quote(index, safe='')}&from={first:{NSE_DATE}}&to={last:{NSE_DATE}}"
        return self._first_route(
            (lambda route=route: self._parsed(self._get(route + query, INDEX_HISTORY_PAGE), parse))
            for route in INDEX_HISTORY
        )

    def daily_history(self, symbol: str, first: date, last: date, is_index: bool) -> list[dict]:
        return (self.index_history if is_index else self.equity_history)(symbol, first, last)

    def corporate_actions(self, symbol: str) -> list[dict]:
        """The stock's corporate actions {ex_date, subject} as NSE lists them (past and announced)."""

        def parse(data: Any) -> list[dict]:
            actions = []
            for row in data if isinstance(data, list) else data["data"]:
                ex_date = str(row.get("exDate") or "-")
                if ex_date == "-":
                    continue  # an action without an ex-date
                day = datetime.strptime(ex_date, "%d-%b-%Y").date()
                actions.append({"ex_date": day, "subject": str(row.get("subject") or "")})
            return actions

        response = self._get(
            f"{CORPORATE_ACTIONS}?index=equities&symbol={quote(symbol, safe='')}", CORPORATE_ACTIONS_PAGE
        )
        return self._parsed(response, parse)
