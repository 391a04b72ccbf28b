"""Daily prices for the ledger, from NSE's public history or Kite's `historical_data`, kept in SQLite.

A day's prices are final once NSE has published them (18:00 IST); the store records which days
each symbol's prices cover, so a re-run asks the source only for days it has not seen. Days after
a symbol's last row are asked again for a week (a price published late may come); a symbol the
source has never sent a row for, or a week without any row inside what was asked (an answer lost,
a long suspension), is asked again every time. NSE's
prices are as traded, with its list of corporate actions to join them across splits and bonuses;
Kite's come adjusted, and Kite adjusts its whole history after each action, so a Kite range is
always fetched again whole rather than stitched to rows fetched before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime, timedelta

import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.kite.client import KiteClient
from niftybaskets.ledger.prices import Adjustment, DayPrice, PriceSeries, price_factor
from niftybaskets.ledger.score import PRICES_FINAL
from niftybaskets.market import IST, Clock
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.research.nse import NseClient, NseError, NseNotFound
from niftybaskets.store import Store

NSE_LIMITS = [(2, 1.0), (60, 60.0)]  # NSE has no published limit; it blocks clients that hurry
NSE_CHUNK_DAYS = 90
KITE_CHUNK_DAYS = 2000  # Kite's longest range for daily candles
LATE_DAYS = 7  # a day still without a row this long after it is taken as not traded
HOLE_DAYS = 7  # NSE never closes this long (its longest breaks are four days)


class HistoryError(RuntimeError):
    """The price source refused or failed; prices fetched so far are kept. The message says what to do."""


class NseHistory:
    name = "nse"

    def __init__(self, client: NseClient, limiter: RateLimiter | None = None) -> None:
        self.client = client
        self.limiter = limiter or RateLimiter()
        self.calls = 0

    def _ask(self, what: str, call: Callable[..., list[dict]], *args: object) -> list[dict]:
        self.limiter.acquire("nse", NSE_LIMITS)
        self.calls += 1
        try:
            return call(*args)
        except NseNotFound:
            return []
        except (NseError, requests.RequestException) as error:
            raise HistoryError(
                f"NSE did not send {what} ({error}). NSE blocks some networks (cloud machines among them) "
                "and busy clients: run the scorer again later or from another network; prices fetched so far "
                "are kept."
            ) from None

    def rows(self, symbol: str, first: date, last: date, is_index: bool) -> list[dict]:
        rows = []
        for start in range(0, (last - first).days + 1, NSE_CHUNK_DAYS):
            low = first + timedelta(days=start)
            high = min(last, low + timedelta(days=NSE_CHUNK_DAYS - 1))
            fetch = self.client.index_history if is_index else self.client.equity_history
            rows += self._ask(f"the prices of {symbol} from {low} to {high}", fetch, symbol, low, high)
        return rows

    def corporate_actions(self, symbol: str) -> list[dict]:
        return self._ask(f"the corporate actions of {symbol}", self.client.corporate_actions, symbol)


class KiteHistory:
    name = "kite"

    def __init__(self, client: KiteClient) -> None:
        self.client = client
        self._tokens: dict[str, int] | None = None
        self.calls = 0

    def _kite_failure(self, error: kite_errors.KiteException) -> HistoryError:
        if isinstance(error, kite_errors.PermissionException):
            return HistoryError(
                f"Kite refused historical data ({error}): your Kite Connect plan does not include it. "
                "Score with NSE's prices instead: --source nse"
            )
        if isinstance(error, kite_errors.TokenException):
            return HistoryError(f"Kite refused the session ({error}): log in again with python3 scripts/kite_login.py")
        return HistoryError(f"Kite did not send historical data ({error}); try again later or use --source nse")

    def token(self, symbol: str, is_index: bool) -> int | None:
        if self._tokens is None:
            self.calls += 1
            try:
                instruments = self.client.instruments("NSE")
            except (kite_errors.KiteException, requests.RequestException) as error:
                raise HistoryError(f"Kite did not send its instrument list ({error}); try again later") from None
            self._tokens = {}
            for row in instruments:
                kind = "index" if row.get("segment") == "INDICES" else "stock"
                self._tokens.setdefault(f"{kind}:{row['tradingsymbol']}", int(row["instrument_token"]))
        kind = "index" if is_index else "stock"
        # Kite shortens some index names: NIFTY SMALLCAP 250 is NIFTY SMLCAP 250 there.
        names = [symbol, symbol.replace("SMALLCAP", "SMLCAP")] if is_index else [symbol]
        return next((self._tokens[f"{kind}:{name}"] for name in names if f"{kind}:{name}" in self._tokens), None)

    def rows(self, symbol: str, first: date, last: date, is_index: bool) -> list[dict]:
        token = self.token(symbol, is_index)
        if token is None:
            return []
        rows = []
        for start in range(0, (last - first).days + 1, KITE_CHUNK_DAYS):
            low = first + timedelta(days=start)
            high = min(last, low + timedelta(days=KITE_CHUNK_DAYS - 1))
            self.calls += 1
            try:
                candles = self.client.daily_candles(token, low, high)
            except kite_errors.KiteException as error:
                raise self._kite_failure(error) from None
            except requests.RequestException as error:
                raise HistoryError(f"Kite could not be reached ({error}); try again later") from None
            rows += [{"day": c["date"].date(), "open": c["open"], "close": c["close"]} for c in candles]
        return rows


def _holes(gaps: list[tuple[date, date]], days: list[date], final: date) -> bool:
    """Whether a week or more inside the days asked came back without a single row: an answer that
    went missing, or a stock suspended for a while. Either way it is asked again next time. The end
    of a range counts only once it is a week old (before that, a missing day may yet be published)."""
    for first, last in gaps:
        ends = [first - timedelta(days=1), *sorted(day for day in days if first <= day <= last)]
        if last <= final - timedelta(days=LATE_DAYS):
            ends.append(last + timedelta(days=1))
        if any((later - earlier).days > HOLE_DAYS for earlier, later in itertools.pairwise(ends)):
            return True
    return False


def last_final_day(now: datetime) -> date:
    local = now.astimezone(IST)
    return local.date() if local.time() >= PRICES_FINAL else local.date() - timedelta(days=1)


class PriceHistory:
    """Prices from one source through the store: each day asked for once (a missing one for a week)."""

    def __init__(self, store: Store, source: NseHistory | KiteHistory, clock: Clock) -> None:
        self.store = store
        self.source = source
        self.clock = clock

    def _fetch(self, symbol: str, first: date, last: date, is_index: bool, final: date) -> None:
        covered = self.store.price_coverage(self.source.name, symbol)
        fetched_at = self.clock().isoformat()
        gaps, low, high = [(first, last)], first, last
        if covered is not None:
            known_first, known_last = (date.fromisoformat(day) for day in covered)
            low, high = min(first, known_first), max(last, known_last)
            gaps = []
            if first < known_first:
                gaps.append((first, known_first - timedelta(days=1)))
            if last > known_last:
                gaps.append((known_last + timedelta(days=1), last))
        if not gaps:
            return
        replace = isinstance(self.source, KiteHistory)
        if replace:
            gaps = [(low, high)]
        rows = [row for gap in gaps for row in self.source.rows(symbol, *gap, is_index) if low <= row["day"] <= high]
        known = None if replace or covered is None else known_last
        latest = max((row["day"] for row in rows if known is None or row["day"] > known), default=known)
        if latest is None:
            return  # not a row at all: asked again next time
        if last <= final - timedelta(days=LATE_DAYS):
            latest = max(latest, last)
        stored = [{**row, "day": row["day"].isoformat()} for row in rows]
        # Covered: from the first day asked to the last row sent (or the last day asked, once a week
        # old); nothing new is covered while a week inside the days asked has no row at all.
        holes = _holes(gaps, [row["day"] for row in rows], final)
        coverage = None if holes else (low.isoformat(), latest.isoformat())
        self.store.save_prices(self.source.name, symbol, stored, coverage, fetched_at, replace=replace)

    def _fetch_actions(self, symbol: str, last: date) -> None:
        """NSE's splits and bonuses of the stock, asked again once prices are needed past the last ask."""
        known_until = self.store.corporate_action_coverage(symbol)
        if known_until is not None and date.fromisoformat(known_until) >= last:
            return
        actions = self.source.corporate_actions(symbol)
        self.store.save_corporate_actions(
            symbol,
            [{**a, "ex_date": a["ex_date"].isoformat()} for a in actions],
            last_final_day(self.clock()).isoformat(),
            self.clock().isoformat(),
        )

    def series(self, symbol: str, is_index: bool) -> PriceSeries:
        rows = self.store.prices(self.source.name, symbol)
        days = {
            date.fromisoformat(row["day"]): DayPrice(
                date.fromisoformat(row["day"]), row["open"], row["close"], row["previous_close"]
            )
            for row in rows
        }
        adjustments = []
        if not is_index and self.source.name == "nse":
            for action in self.store.corporate_actions(symbol):
                factor = price_factor(action["subject"])
                if factor is not None:
                    adjustments.append(Adjustment(date.fromisoformat(action["ex_date"]), factor, action["subject"]))
        missing = "" if days else f"{self.source.name} sent no prices for it"
        return PriceSeries(symbol, self.source.name, days, adjustments, missing)

    def load(
        self,
        needs: dict[str, tuple[date, date]],
        indices: set[str],
        on_symbol: Callable[[str], None] = lambda symbol: None,
    ) -> dict[str, PriceSeries]:
        """Every needed symbol's prices (fetching the days not stored yet), by symbol."""
        final = last_final_day(self.clock())
        result = {}
        for symbol, (first, last) in sorted(needs.items()):
            last = min(last, final)
            is_index = symbol in indices
            if first <= last:
                self._fetch(symbol, first, last, is_index, final)
                if not is_index and isinstance(self.source, NseHistory):
                    self._fetch_actions(symbol, last)
            result[symbol] = self.series(symbol, is_index)
            on_symbol(symbol)
        return result
