"""Daily prices for the ledger, from NSE's public history, Yahoo's or Kite's `historical_data`, kept in SQLite.

A day's prices are final once NSE has published them (18:00 IST); the store records which days
each symbol's prices cover, so a re-run asks the source only for days it has not seen. Days after
a symbol's last row are asked again for a week (a price published late may come); a symbol the
source has never sent a row for, or a week without any row inside what was asked (an answer lost,
a long suspension), is asked again every time. NSE's
prices are as traded, with its list of corporate actions to join them across splits and bonuses;
Kite's come adjusted, and Kite adjusts its whole history after each action, so a Kite range is
always fetched again whole rather than stitched to rows fetched before; so is Yahoo's. The sources
are asked in order: one that refuses is left for the rest of the run and the next one answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.errors import NiftyError
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.wire import EXCHANGE
from niftybaskets.ledger.prices import Adjustment, DayPrice, PriceSeries, price_factor
from niftybaskets.ledger.score import PRICES_FINAL
from niftybaskets.market import IST, Clock
from niftybaskets.marketdata.answers import MarketDataError, NotFound
from niftybaskets.marketdata.chain import NEXT_STEP
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.marketdata.yahoo import YahooClient
from niftybaskets.price_cache import PriceCache

CHUNK_DAYS = {"nse": 90, "yahoo": 2000}
KITE_CHUNK_DAYS = 2000  # Kite's longest range for daily candles
LATE_DAYS = 7  # a day still without a row this long after it is taken as not traded
HOLE_DAYS = 7  # NSE never closes this long (its longest breaks are four days)


class HistoryError(NiftyError):
    """The price source refused or failed; prices fetched so far are kept. The message says what to do."""


class WebHistory:
    """Daily prices from NSE (as traded, joined with NSE's corporate actions) or Yahoo (adjusted)."""

    def __init__(self, client: NseClient | YahooClient) -> None:
        self.client = client  # it keeps to the source's pace
        self.name = client.name
        # Yahoo adjusts its whole history after each split or bonus, as Kite does.
        self.adjusted = not isinstance(client, NseClient)
        self.calls = 0

    def _ask(self, what: str, call: Callable[..., list[dict]], *args: object) -> list[dict]:
        self.calls += 1
        try:
            return call(*args)
        except NotFound:
            return []
        except MarketDataError as error:
            raise HistoryError(
                f"{self.client.title} did not send {what} ({error}): "
                f"{NEXT_STEP.get(self.name, 'try again later')}; prices fetched so far are kept."
            ) from None

    def rows(self, symbol: str, first: date, last: date, is_index: bool) -> list[dict]:
        rows = []
        chunk = CHUNK_DAYS.get(self.name, KITE_CHUNK_DAYS)
        for start in range(0, (last - first).days + 1, chunk):
            low = first + timedelta(days=start)
            high = min(last, low + timedelta(days=chunk - 1))
            rows += self._ask(
                f"the prices of {symbol} from {low} to {high}", self.client.daily_history, symbol, low, high, is_index
            )
        return rows

    def corporate_actions(self, symbol: str) -> list[dict]:
        if not isinstance(self.client, NseClient):
            return []
        return self._ask(f"the corporate actions of {symbol}", self.client.corporate_actions, symbol)


class KiteHistory:
    name = "kite"
    adjusted = True  # Kite adjusts its whole history after each corporate action

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
                instruments = self.client.instruments(EXCHANGE)
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


PriceSource = WebHistory | KiteHistory


class PriceHistory:
    """Prices through the store, from the first source that answers: each day asked for once (a
    missing one for a week). A source that fails is not asked again in this run; the next one is."""

    def __init__(
        self,
        store: PriceCache,
        sources: Sequence[PriceSource],
        clock: Clock,
        say: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.clock = clock
        self.say = say
        self.failures: dict[str, str] = {}  # source -> why it was left for the rest of the run

    def _fetch(self, source: PriceSource, symbol: str, first: date, last: date, is_index: bool, final: date) -> None:
        covered = self.store.price_coverage(source.name, symbol)
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
        replace = source.adjusted
        if replace:
            gaps = [(low, high)]
        rows = [row for gap in gaps for row in source.rows(symbol, *gap, is_index) if low <= row["day"] <= high]
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
        self.store.save_prices(source.name, symbol, stored, coverage, fetched_at, replace=replace)

    def _fetch_actions(self, source: PriceSource, symbol: str, last: date) -> None:
        """NSE's splits and bonuses of the stock, asked again once prices are needed past the last ask."""
        known_until = self.store.corporate_action_coverage(symbol)
        if known_until is not None and date.fromisoformat(known_until) >= last:
            return
        actions = source.corporate_actions(symbol)
        self.store.save_corporate_actions(
            symbol,
            [{**a, "ex_date": a["ex_date"].isoformat()} for a in actions],
            last_final_day(self.clock()).isoformat(),
            self.clock().isoformat(),
        )

    def series(self, source: PriceSource, symbol: str, is_index: bool) -> PriceSeries:
        rows = self.store.prices(source.name, symbol)
        days = {
            date.fromisoformat(row["day"]): DayPrice(
                date.fromisoformat(row["day"]), row["open"], row["close"], row["previous_close"]
            )
            for row in rows
        }
        adjustments = []
        if not is_index and not source.adjusted:
            for action in self.store.corporate_actions(symbol):
                factor = price_factor(action["subject"])
                if factor is not None:
                    adjustments.append(Adjustment(date.fromisoformat(action["ex_date"]), factor, action["subject"]))
        missing = "" if days else f"{source.name} sent no prices for it"
        return PriceSeries(symbol, source.name, days, adjustments, missing)

    def _covered(self, source: PriceSource, symbol: str, first: date, last: date) -> bool:
        covered = self.store.price_coverage(source.name, symbol)
        return covered is not None and covered[0] <= first.isoformat() and last.isoformat() <= covered[1]

    def _load_one(self, symbol: str, first: date, last: date, is_index: bool, final: date) -> PriceSeries:
        """The first source's prices that has any. A source that refused is never taken as one with
        no prices: when no source has any and one refused, the run fails (and writes nothing)."""
        empty: PriceSeries | None = None
        refused = False
        for source in self.sources:
            if source.name in self.failures:
                if self._covered(source, symbol, first, last):
                    return self.series(source, symbol, is_index)  # what it sent before still serves
                refused = True
                continue
            if first <= last:
                try:
                    self._fetch(source, symbol, first, last, is_index, final)
                    if not is_index and not source.adjusted:
                        self._fetch_actions(source, symbol, last)
                except HistoryError as error:
                    self.failures[source.name] = str(error)
                    self.say(f"Warning: {error} Asking the next source.")
                    refused = True
                    continue
            series = self.series(source, symbol, is_index)
            if series.days:
                return series
            empty = empty or series
        if refused or empty is None:
            failures = " ".join(self.failures.values()) or "no price source is configured."
            raise HistoryError(f"No source sent the prices of {symbol}. {failures}")
        return empty

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
            result[symbol] = self._load_one(symbol, first, min(last, final), symbol in indices, final)
            on_symbol(symbol)
        return result
