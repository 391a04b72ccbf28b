"""NSE's public JSON API through `requests`, with the browser-like headers and cookie warm-up it wants.

NSE answers its API only to clients that first loaded one of its pages (which sets session
cookies) and that send a browser's headers with a matching Referer.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import requests

from niftybaskets.config import DEFAULT_NSE_BASE_URL

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    ),
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9",
}


# NSE's history pages. The equity route moved from /api/historical/cm/equity in 2026; the answer
# kept its shape.
EQUITY_HISTORY = "/api/historicalOR/cm/equity"
INDEX_HISTORY = "/api/historical/indicesHistory"
CORPORATE_ACTIONS = "/api/corporates-corporateActions"
EQUITY_HISTORY_PAGE = "/report-detail/eq_security"
INDEX_HISTORY_PAGE = "/reports-indices-historical-index-data"
CORPORATE_ACTIONS_PAGE = "/companies-listing/corporate-filings-actions"
NSE_DATE = "%d-%m-%Y"


class NseError(RuntimeError):
    """NSE did not answer with data; the message says what to try."""


class NseNotFound(NseError):
    """NSE answered, but has nothing for that symbol."""


class NseClient:
    def __init__(self, base_url: str = DEFAULT_NSE_BASE_URL, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(BROWSER_HEADERS)
        self._warmed_up: set[str] = set()
        self._lock = threading.Lock()  # one requests.Session, shared by the refresher and requests

    def _get_json(self, path: str, referer_path: str) -> Any:
        with self._lock:
            return self._get_json_unlocked(path, referer_path)

    def _get_json_unlocked(self, path: str, referer_path: str) -> Any:
        referer = f"{self.base_url}{referer_path}"
        for attempt in range(2):
            if referer not in self._warmed_up or attempt:
                self.session.get(referer, timeout=self.timeout)
                self._warmed_up.add(referer)
            response = self.session.get(f"{self.base_url}{path}", headers={"Referer": referer}, timeout=self.timeout)
            if response.status_code in (401, 403) and attempt == 0:
                continue  # the cookies went stale: load the page again
            break
        if response.status_code == 404:
            raise NseNotFound(f"NSE has nothing at {path}")
        if response.status_code != 200:
            raise NseError(
                f"NSE answered HTTP {response.status_code} for {path}; open {referer} in a browser, then retry"
            )
        try:
            return response.json()
        except ValueError:
            raise NseError(f"NSE sent something other than JSON for {path}") from None

    def quote_equity(self, symbol: str) -> dict:
        """The `quote-equity` payload: `priceInfo` has lastPrice, previousClose, lowerCP, upperCP."""
        encoded = quote(symbol, safe="")
        return self._get_json(f"/api/quote-equity?symbol={encoded}", f"/get-quotes/equity?symbol={encoded}")

    def index_constituents(self, index: str) -> list[dict]:
        """The index's stocks from `equity-stockIndices`, with the quote fields the forecast prompt uses."""
        encoded = quote(index, safe="")
        data = self._get_json(
            f"/api/equity-stockIndices?index={encoded}", f"/market-data/live-equity-market?symbol={encoded}"
        )
        rows = [row for row in data.get("data", []) if row.get("symbol") and row.get("symbol") != index]
        if not rows:
            raise NseError(f"NSE listed no stocks for the index {index!r}; check its name (e.g. NIFTY SMALLCAP 250)")
        # A stock without a last price (suspended) cannot be forecast against it.
        stocks = [constituent(row) for row in rows if row.get("priority", 0) == 0]
        return [stock for stock in stocks if stock["last_price"] > 0]

    def equity_history(self, symbol: str, first: date, last: date) -> list[dict]:
        """Daily rows {day, open, close, previous_close} of the stock's EQ series, as traded (not
        adjusted for splits or bonuses)."""
        data = self._get_json(
            f"{EQUITY_HISTORY}?symbol={quote(symbol, safe='')}&series=[%22EQ%22]"
            f"&from={first:{NSE_DATE}}&to={last:{NSE_DATE}}",
            EQUITY_HISTORY_PAGE,
        )
        rows = []
        for row in data.get("data") or []:
            try:
                day = date.fromisoformat(str(row["CH_TIMESTAMP"])[:10])
            except (KeyError, ValueError):
                continue
            rows.append(
                {
                    "day": day,
                    "open": _number(row.get("CH_OPENING_PRICE")),
                    "close": _number(row.get("CH_CLOSING_PRICE")),
                    "previous_close": _number(row.get("CH_PREVIOUS_CLS_PRICE")),
                }
            )
        return rows

    def index_history(self, index: str, first: date, last: date) -> list[dict]:
        """Daily rows {day, open, close} of an index (NSE's name, e.g. NIFTY SMALLCAP 250)."""
        data = self._get_json(
            f"{INDEX_HISTORY}?indexType={quote(index, safe='')}&from={first:{NSE_DATE}}&to={last:{NSE_DATE}}",
            INDEX_HISTORY_PAGE,
        )
        records = (data.get("data") or {}).get("indexCloseOnlineRecords") or []
        rows = []
        for row in records:
            try:
                day = datetime.strptime(str(row["EOD_TIMESTAMP"]), "%d-%b-%Y").date()
            except (KeyError, ValueError):
                continue
            rows.append(
                {
                    "day": day,
                    "open": _number(row.get("EOD_OPEN_INDEX_VAL")),
                    "close": _number(row.get("EOD_CLOSE_INDEX_VAL")),
                }
            )
        return rows

    def corporate_actions(self, symbol: str) -> list[dict]:
        """The stock's corporate actions {ex_date, subject} as NSE lists them (past and announced)."""
        data = self._get_json(
            f"{CORPORATE_ACTIONS}?index=equities&symbol={quote(symbol, safe='')}", CORPORATE_ACTIONS_PAGE
        )
        actions = []
        for row in data if isinstance(data, list) else data.get("data") or []:
            try:
                ex_date = datetime.strptime(str(row["exDate"]), "%d-%b-%Y").date()
            except (KeyError, ValueError):
                continue  # "-" for actions without an ex-date
            actions.append({"ex_date": ex_date, "subject": str(row.get("subject") or "")})
        return actions


def _number(value: object) -> float | None:
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def constituent(row: dict) -> dict:
    meta = row.get("meta") or {}
    return {
        "symbol": row["symbol"],
        "company": meta.get("companyName") or row["symbol"],
        "industry": meta.get("industry") or "unknown",
        "last_price": _number(row.get("lastPrice")) or 0.0,
        "previous_close": _number(row.get("previousClose")),
        "day_low": _number(row.get("dayLow")),
        "day_high": _number(row.get("dayHigh")),
        "year_low": _number(row.get("yearLow")),
        "year_high": _number(row.get("yearHigh")),
        "volume": _number(row.get("totalTradedVolume")),
        "change_30d": _number(row.get("perChange30d")),
        "change_365d": _number(row.get("perChange365d")),
    }
