"""NSE's public JSON API through `requests`, with the browser-like headers and cookie warm-up it wants.

NSE answers its API only to clients that first loaded one of its pages (which sets session
cookies) and that send a browser's headers with a matching Referer.
"""

from __future__ import annotations

import threading
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


class NseError(RuntimeError):
    """NSE did not answer with data; the message says what to try."""


class NseClient:
    def __init__(self, base_url: str = DEFAULT_NSE_BASE_URL, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(BROWSER_HEADERS)
        self._warmed_up: set[str] = set()
        self._lock = threading.Lock()  # one requests.Session, shared by the refresher and requests

    def _get_json(self, path: str, referer_path: str) -> dict:
        with self._lock:
            return self._get_json_unlocked(path, referer_path)

    def _get_json_unlocked(self, path: str, referer_path: str) -> dict:
        referer = f"{self.base_url}{referer_path}"
        for attempt in range(2):
            if referer not in self._warmed_up or attempt:
                self.session.get(referer, timeout=self.timeout)
                self._warmed_up.add(referer)
            response = self.session.get(f"{self.base_url}{path}", headers={"Referer": referer}, timeout=self.timeout)
            if response.status_code in (401, 403) and attempt == 0:
                continue  # the cookies went stale: load the page again
            break
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
