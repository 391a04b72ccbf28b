"""The paper exchange's market: prices and circuit bands, and the quotes, instrument dump and daily
candles Kite serves from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from niftybaskets.kite.wire import EXCHANGE
from niftybaskets.paper import payloads
from niftybaskets.paper.account_file import Rules
from niftybaskets.paper.errors import KiteError, input_error
from niftybaskets.paper.payloads import TICK_SIZE, stamp
from niftybaskets.paper.storage import Storage

MAX_INSTRUMENTS = {"ltp": 1000, "ohlc": 1000, "quote": 500}
# Kite's longest span of one historical request, per interval; only day candles are modelled.
MAX_HISTORY_SPAN = {"day": timedelta(days=2000)}
HISTORY_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


@dataclass(frozen=True)
class PriceQuote:
    last_price: float
    close_price: float | None = None
    circuit: tuple[float, float] | None = None


PriceSource = Callable[[list[str]], dict[str, PriceQuote]]


def to_tick(price: float) -> float:
    # Circuit bands are rounded to TICK_SIZE; NSE's tick size varies with price, so fills and LIMIT
    # prices are only required to be whole paise.
    return round(round(price / TICK_SIZE) * TICK_SIZE, 2)


def no_permission() -> KiteError:
    """What Kite answers a plan without market data (or without historical data)."""
    return KiteError(403, "PermissionException", "Insufficient permission for that call.")


class PriceBook:
    def __init__(self, storage: Storage, rules: Rules) -> None:
        self.storage = storage
        self.rules = rules

    # -- prices -------------------------------------------------------------------------------

    def unknown(self, symbols: list[str]) -> list[str]:
        return [symbol for symbol in symbols if self.storage.price(symbol) is None]

    def store(self, quotes: Mapping[str, PriceQuote]) -> None:
        for symbol, quote in quotes.items():
            self.storage.upsert_price(symbol, quote.last_price, quote.close_price, quote.circuit)

    def set(self, updates: Mapping[str, Mapping]) -> None:
        """Each update has last_price and optionally close_price, lower_circuit and upper_circuit."""
        for symbol, update in updates.items():
            circuit = None
            if update.get("lower_circuit") is not None and update.get("upper_circuit") is not None:
                circuit = (update["lower_circuit"], update["upper_circuit"])
            self.storage.upsert_price(symbol, update["last_price"], update.get("close_price"), circuit)

    def require(self, symbols: list[str]) -> dict[str, dict]:
        rows = {symbol: self.storage.price(symbol) for symbol in symbols}
        missing = [symbol for symbol, row in rows.items() if row is None]
        if missing:
            names = ", ".join(f"NSE:{symbol}" for symbol in missing)
            raise input_error(
                f"No price is known for {names} in the paper exchange. Add it under prices: in the account "
                "file, POST it to /admin/prices, or start the exchange with --live-prices."
            )
        return {symbol: dict(row) for symbol, row in rows.items()}

    def circuit(self, price: Mapping) -> tuple[float, float]:
        """The day's band: the one set for the symbol, else the default percentage around the previous close."""
        if price["lower_circuit"] is not None and price["upper_circuit"] is not None:
            return price["lower_circuit"], price["upper_circuit"]
        band = self.rules.default_circuit_percent / 100
        return to_tick(price["close_price"] * (1 - band)), to_tick(price["close_price"] * (1 + band))

    # -- quotes -------------------------------------------------------------------------------

    def quoted_symbols(self, instruments: list[str], mode: str) -> dict[str, str]:
        """The symbol of each `NSE:SYMBOL` instrument of a quote request, checked as Kite checks them."""
        if not self.rules.market_data:
            raise no_permission()
        if not instruments:
            raise input_error("No instruments given: pass i=NSE:SYMBOL, once per instrument.")
        if len(instruments) > MAX_INSTRUMENTS[mode]:
            raise input_error(f"Too many instruments: at most {MAX_INSTRUMENTS[mode]} per {mode} request.")
        symbols = {}
        for instrument in instruments:
            exchange, _, symbol = instrument.partition(":")
            if exchange != EXCHANGE or not symbol:
                raise input_error(f"Invalid instrument `{instrument}`: the paper exchange quotes NSE:SYMBOL only.")
            symbols[instrument] = symbol
        return symbols

    def quote(self, symbols: Mapping[str, str], mode: str, now: datetime) -> dict:
        prices = self.require(sorted(set(symbols.values())))
        return {
            instrument: payloads.quote(symbol, prices[symbol], self.circuit(prices[symbol]), mode, stamp(now))
            for instrument, symbol in symbols.items()
        }

    # -- instruments and history --------------------------------------------------------------

    def instruments(self) -> dict[int, str]:
        """Every symbol with a price or daily history, by instrument token."""
        by_token: dict[int, str] = {}
        for symbol in sorted({*self.storage.symbols(), *self.storage.history_symbols()}):
            token = payloads.instrument_token(symbol)
            other = by_token.setdefault(token, symbol)
            if other != symbol:
                raise KiteError(
                    500,
                    "GeneralException",
                    f"{other} and {symbol} would share instrument token {token}: the paper exchange derives "
                    "tokens from symbols. Keep one of them out of the account file (and use a fresh --db file "
                    "if the other is saved in this one).",
                )
        return by_token

    def instruments_csv(self, exchange: str | None = None) -> str:
        """Kite's instrument dump (CSV): every stock and index the paper exchange knows, all on NSE."""
        symbols = list(self.instruments().values()) if exchange in (None, EXCHANGE) else []
        return payloads.instruments_csv(symbols)

    def historical(self, token: str, interval: str, params: Mapping[str, str]) -> dict:
        """Daily candles of one instrument from the account file's history, within [from, to] by date."""
        if not self.rules.historical_data:
            raise no_permission()
        if interval not in MAX_HISTORY_SPAN:
            raise input_error(f"invalid interval `{interval}`: the paper exchange serves interval `day` only.")
        first, last = history_date(params, "from"), history_date(params, "to")
        with_oi = flag(params, "oi")
        flag(params, "continuous")  # continuous series are for futures; on NSE stocks it changes nothing
        if first > last:
            raise input_error(f"invalid date range: `from` ({params['from']}) is after `to` ({params['to']}).")
        limit = MAX_HISTORY_SPAN[interval]
        if last - first > limit:
            raise input_error(f"interval exceeds max limit: {limit.days} days")
        symbol = self.instruments().get(int(token)) if token.isascii() and token.isdigit() else None
        if symbol is None:
            raise input_error("invalid token")
        rows = self.storage.history(symbol, first.date(), last.date())
        return {"candles": [payloads.candle(row, with_oi) for row in rows]}


def history_date(params: Mapping[str, str], name: str) -> datetime:
    text = params.get(name, "").strip()
    for layout in HISTORY_DATE_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    raise input_error(f"invalid `{name}` date {text!r}: use yyyy-mm-dd hh:mm:ss.")


def flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "0")
    if value not in ("0", "1"):
        raise input_error(f"invalid `{name}` {value!r}: use 0 or 1.")
    return value == "1"
