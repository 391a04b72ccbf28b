"""The kiteconnect SDK with Kite's rate limits kept on our side, and reads retried.

Kite allows 10 order requests a second per account (the 11th gets 429), 1 quote request a second,
3 historical requests a second and 10 a second for everything else; blind retry loops can get an
app suspended. This client waits its turn for every call, stays a little under each limit, retries
reads a bounded number of times on server errors, and never retries an order: the caller decides
after checking the book.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from niftybaskets.ratelimit import RateLimiter

T = TypeVar("T")

# Under Kite's limits (10/s orders and other calls, 1/s quotes, 3/s historical), with room for jitter.
LIMITS = {
    "orders": [(9, 1.0), (350, 60.0)],
    "quote": [(1, 1.1)],
    "other": [(9, 1.0)],
    "historical": [(2, 1.0)],
}
LTP_BATCH = 500


def is_transient(error: BaseException) -> bool:
    """Worth asking again, and for an order a sign it may have been placed all the same: any
    network failure, or any answer from Kite with a 5xx or 429 status, whatever its error type."""
    if isinstance(error, requests.RequestException):
        return True
    return isinstance(error, kite_errors.KiteException) and (error.code >= 500 or error.code == 429)


def retry_reads(sleep: Callable[[float], None]) -> Callable:
    return retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.5, max=4),
        sleep=sleep,
        reraise=True,
    )


class KiteClient:
    def __init__(
        self,
        kite: KiteConnect,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kite = kite
        self.sleep = sleep
        self.limiter = limiter or RateLimiter(sleep=sleep)
        self._read = retry_reads(sleep)

    def _call(self, bucket: str, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        self.limiter.acquire(bucket, LIMITS[bucket])
        return function(*args, **kwargs)

    def read(self, bucket: str, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        return self._read(self._call)(bucket, function, *args, **kwargs)

    # -- reads (retried) ------------------------------------------------------------------------

    def profile(self) -> dict:
        return self.read("other", self.kite.profile)

    def holdings(self) -> list[dict]:
        return self.read("other", self.kite.holdings)

    def positions(self) -> dict:
        return self.read("other", self.kite.positions)

    def equity_margins(self) -> dict:
        return self.read("other", self.kite.margins, "equity")

    def orders(self) -> list[dict]:
        return self.read("other", self.kite.orders)

    def last_prices(self, symbols: Iterable[str]) -> dict[str, float]:
        """NSE last prices through /quote/ltp, in batches; a symbol Kite does not know is left out."""
        symbols = list(symbols)
        prices: dict[str, float] = {}
        for start in range(0, len(symbols), LTP_BATCH):
            batch = [f"NSE:{symbol}" for symbol in symbols[start : start + LTP_BATCH]]
            answer = self.read("quote", self.kite.ltp, batch)
            prices.update({key.removeprefix("NSE:"): value["last_price"] for key, value in answer.items()})
        return prices

    def instruments(self, exchange: str) -> list[dict]:
        return self.read("other", self.kite.instruments, exchange)

    def daily_candles(self, instrument_token: int, first: date, last: date) -> list[dict]:
        """Day candles {date, open, high, low, close, volume} from `first` to `last`, both included."""
        first_time, last_time = f"{first} 00:00:00", f"{last} 23:59:59"
        return self.read("historical", self.kite.historical_data, instrument_token, first_time, last_time, "day")

    # -- orders (never retried here) ------------------------------------------------------------

    def place_order(self, **params: object) -> str:
        return self._call("orders", self.kite.place_order, **params)

    def cancel_order(self, variety: str, order_id: str) -> str:
        return self._call("orders", self.kite.cancel_order, variety, order_id)
