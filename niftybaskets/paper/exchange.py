"""The paper exchange's broker: accounts, orders, fills and Kite's rules, with Kite-shaped answers.

Time only moves through the injected clock. Each call first brings the account up to that time
(`_catch_up`): sessions that ended are settled (today's CNC buys become T1, T1 becomes settled,
sale proceeds are released), DAY orders that outlived their session are cancelled, and AMOs
whose session has opened are sent to the market. The HTTP layer (app.py) only translates.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from urllib.parse import parse_qsl, urlencode

from niftybaskets.market import IST, MARKET_CLOSE, MARKET_OPEN, Clock, NseCalendar, system_clock
from niftybaskets.paper import payloads
from niftybaskets.paper.account_file import AccountFile, Rules
from niftybaskets.paper.errors import KiteError, input_error, token_error, too_many_requests
from niftybaskets.paper.faults import FaultQueue
from niftybaskets.paper.orders import OrderRequest, parse_order
from niftybaskets.paper.payloads import TICK_SIZE, DayTotals, stamp
from niftybaskets.paper.storage import Storage
from niftybaskets.ratelimit import RateLimiter

# Kite refreshes holdings (T1 moves, authorisations lapse) before 8 AM; tokens die near 6 AM.
START_OF_DAY = clock_time(8, 0)
TOKEN_EXPIRY = clock_time(6, 0)
# Circuit bands are rounded to TICK_SIZE; NSE's tick size varies with price, so fills and LIMIT
# prices are only required to be whole paise.
WAITING = ("OPEN", "AMO REQ RECEIVED")
MAX_INSTRUMENTS = {"ltp": 1000, "ohlc": 1000, "quote": 500}
# Kite's longest span of one historical request, per interval; only day candles are modelled.
MAX_HISTORY_SPAN = {"day": timedelta(days=2000)}
HISTORY_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
BLOCKED_SHARE_OLD_RULE = 0.2


@dataclass(frozen=True)
class PriceQuote:
    last_price: float
    close_price: float | None = None
    circuit: tuple[float, float] | None = None


PriceSource = Callable[[list[str]], dict[str, PriceQuote]]


def to_tick(price: float) -> float:
    return round(round(price / TICK_SIZE) * TICK_SIZE, 2)


class PaperExchange:
    def __init__(
        self,
        setup: AccountFile,
        storage: Storage,
        *,
        clock: Clock = system_clock,
        monotonic: Callable[[], float] = time.monotonic,
        calendar: NseCalendar | None = None,
        price_source: PriceSource | None = None,
        reset: bool = False,
    ) -> None:
        self.rules: Rules = setup.rules
        self.calendar = calendar or NseCalendar(setup.holidays)
        self.clock = clock
        self.storage = storage
        self.faults = FaultQueue(setup.faults)
        self.price_source = price_source
        self._limiter = RateLimiter(monotonic)
        self._whitelist = [ipaddress.ip_network(entry, strict=False) for entry in self.rules.whitelisted_ips]
        self._lock = threading.RLock()
        self.resumed: list[str] = []
        self.refused_for_rate = 0  # requests answered 429: a client that keeps Kite's limits sees none
        if reset:
            storage.wipe()
        held = {symbol for seed in setup.all_accounts() for symbol in (*seed.holdings, *seed.t1_holdings)}
        self._fetch_unknown_prices(sorted(held - set(setup.prices)))
        with self._lock, storage.transaction():
            self._seed(setup)

    # -- set-up -------------------------------------------------------------------------------

    def _seed(self, setup: AccountFile) -> None:
        now = self.clock()
        today = self._business_day(now)
        self.storage.init_market(today.isoformat())
        self._roll_market(now)  # a saved market from an earlier day closes first: the file's prices are today's
        for symbol, price in setup.prices.items():
            self.storage.upsert_price(symbol, price, None, setup.circuits.get(symbol))
        for symbol, rows in setup.history.items():
            self.storage.replace_history(symbol, rows)
        self._instruments()  # two symbols sharing a token stop the start, not a later request
        seeds = setup.all_accounts()
        # Accounts of this file that share an api_key share its secret (the file is checked for that), and
        # their saved credentials are replaced below: only a saved account the file does not name can clash.
        in_file = {seed.user_id for seed in seeds}
        for seed in seeds:
            fields = {
                "user_id": seed.user_id,
                "api_key": seed.api_key,
                "api_secret": seed.api_secret,
                "user_name": seed.user_name,
                "email": seed.email,
                "redirect_url": seed.redirect_url,
            }
            sharer = self.storage.account_by_api_key(seed.api_key)
            if sharer is not None and sharer["user_id"] not in in_file and sharer["api_secret"] != seed.api_secret:
                raise ValueError(
                    f"account {seed.user_id} has the api_key of saved account {sharer['user_id']} in "
                    f"{self.storage.path} but another api_secret; make them match or start with --reset"
                )
            if self.storage.account(seed.user_id) is not None:
                self.storage.update_credentials(fields)
                self.resumed.append(seed.user_id)
                continue
            self.storage.insert_account({**fields, "opening_balance": seed.cash, "business_date": today.isoformat()})
            for symbol in sorted(set(seed.holdings) | set(seed.t1_holdings)):
                self._require_prices([symbol])
                average = seed.average_prices.get(symbol) or self.storage.price(symbol)["close_price"]
                self.storage.put_holding(
                    seed.user_id, symbol, seed.holdings.get(symbol, 0), seed.t1_holdings.get(symbol, 0), average
                )

    # -- time ---------------------------------------------------------------------------------

    def _business_day(self, now: datetime) -> date:
        """The session whose books are current: it starts at START_OF_DAY of a trading day."""
        return self.calendar.latest_day_started(now, START_OF_DAY)

    def _market_open(self, now: datetime) -> bool:
        return not self.rules.market_hours or self.calendar.is_open(now)

    def _next_session(self, now: datetime) -> date:
        local = now.astimezone(IST)
        if self.calendar.is_trading_day(local.date()) and local.time() < MARKET_OPEN:
            return local.date()
        return self.calendar.next_trading_day(local.date())

    def _roll_market(self, now: datetime) -> date:
        """Once per new session, yesterday's last prices become the previous closes."""
        target = self._business_day(now)
        if date.fromisoformat(self.storage.market_state()["price_date"]) < target:
            self.storage.close_the_day()
            self.storage.set_price_date(target.isoformat())
        return target

    def _catch_up(self, user_id: str, now: datetime) -> None:
        target = self._roll_market(now)
        day = date.fromisoformat(self.storage.account(user_id)["business_date"])
        while day < target:
            self._send_amos(user_id, day, now)
            following = self.calendar.next_trading_day(day)
            self._settle(user_id, day, following, now)
            day = following
        local = now.astimezone(IST)
        if now >= self.calendar.session_open(day):
            self._send_amos(user_id, day, now)
        if self.rules.market_hours and (local.date() > day or local.time() >= MARKET_CLOSE):
            self._expire_day_orders(user_id, day, now)

    def _settle(self, user_id: str, day: date, following: date, now: datetime) -> None:
        """End of `day`: trades settle one step, sale money is released, DAY orders expire."""
        self._expire_day_orders(user_id, day, now)
        totals = self._day_totals(user_id, day)
        account = self.storage.account(user_id)
        opening = account["opening_balance"]
        holdings = {row["symbol"]: row for row in self.storage.holdings(user_id)}
        for symbol in sorted(set(holdings) | set(totals)):
            row = holdings.get(symbol)
            settled, t1, average = (row["quantity"], row["t1_quantity"], row["average_price"]) if row else (0, 0, 0.0)
            day_totals = totals.get(symbol, DayTotals())
            # Negative only with holdings_check off: an oversold position stays as a short delivery.
            remaining = settled - day_totals.sold_settled + t1 - day_totals.sold_t1
            bought = day_totals.buy_quantity - day_totals.sold_from_today
            if remaining + bought > 0 and remaining >= 0 and bought >= 0:
                bought_price = day_totals.buy_value / day_totals.buy_quantity if day_totals.buy_quantity else 0.0
                average = (remaining * average + bought * bought_price) / (remaining + bought)
            self.storage.put_holding(user_id, symbol, remaining, bought, average)
        for day_totals in totals.values():
            opening += day_totals.sell_value - day_totals.buy_value
        self.storage.clear_authorisations(user_id)
        self.storage.roll_account(user_id, opening, following.isoformat())

    def _expire_day_orders(self, user_id: str, day: date, now: datetime) -> None:
        closed = min(now, datetime.combine(day, MARKET_CLOSE, IST))
        for order in self.storage.orders_with_status(user_id, ["OPEN"]):
            if date.fromisoformat(order["session_date"]) <= day:
                self._finish(order, "CANCELLED", closed, "DAY order expired when the session closed.")

    def _send_amos(self, user_id: str, day: date, now: datetime) -> None:
        # An AMO goes to the market at its session's open, even if nobody looked until later.
        opened = self.calendar.session_open(day)
        for order in self.storage.orders_with_status(user_id, ["AMO REQ RECEIVED"]):
            if date.fromisoformat(order["session_date"]) <= day:
                self.storage.update_order(order["order_id"], status="OPEN", updated_at=stamp(opened))
                self._event(order["order_id"], "OPEN", None, opened)
                self._try_fill(self.storage.order(user_id, order["order_id"]), opened, market_open=True)

    # -- prices -------------------------------------------------------------------------------

    def _fetch_unknown_prices(self, symbols: list[str]) -> None:
        """Ask the live source for symbols with no price yet, outside the lock: it may take seconds."""
        if self.price_source is None:
            return
        with self._lock:
            unknown = [symbol for symbol in symbols if self.storage.price(symbol) is None]
        quotes = self.price_source(unknown) if unknown else {}
        if quotes:
            with self._lock, self.storage.transaction():
                for symbol, quote in quotes.items():
                    self.storage.upsert_price(symbol, quote.last_price, quote.close_price, quote.circuit)

    def _require_prices(self, symbols: list[str]) -> dict[str, dict]:
        rows = {symbol: self.storage.price(symbol) for symbol in symbols}
        missing = [symbol for symbol, row in rows.items() if row is None]
        if missing:
            names = ", ".join(f"NSE:{symbol}" for symbol in missing)
            raise input_error(
                f"No price is known for {names} in the paper exchange. Add it under prices: in the account "
                "file, POST it to /admin/prices, or start the exchange with --live-prices."
            )
        return {symbol: dict(row) for symbol, row in rows.items()}

    def _circuit(self, price: Mapping) -> tuple[float, float]:
        if price["lower_circuit"] is not None and price["upper_circuit"] is not None:
            return price["lower_circuit"], price["upper_circuit"]
        band = self.rules.default_circuit_percent / 100
        return to_tick(price["close_price"] * (1 - band)), to_tick(price["close_price"] * (1 + band))

    def set_prices(self, updates: Mapping[str, Mapping]) -> None:
        """Admin: move prices; each update has last_price and optionally close_price, lower/upper_circuit."""
        with self._lock, self.storage.transaction():
            self._roll_market(self.clock())  # a new day's prices must not become its previous close
            for symbol, update in updates.items():
                circuit = None
                if update.get("lower_circuit") is not None and update.get("upper_circuit") is not None:
                    circuit = (update["lower_circuit"], update["upper_circuit"])
                self.storage.upsert_price(symbol, update["last_price"], update.get("close_price"), circuit)

    def known_symbols(self) -> list[str]:
        with self._lock:
            return self.storage.symbols()

    # -- instruments and history --------------------------------------------------------------

    def _instruments(self) -> dict[int, str]:
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

    def instruments(self, exchange: str | None = None) -> str:
        """Kite's instrument dump (CSV): every stock and index the paper exchange knows, all on NSE."""
        with self._lock:
            symbols = list(self._instruments().values()) if exchange in (None, "NSE") else []
        return payloads.instruments_csv(symbols)

    def historical(self, token: str, interval: str, params: Mapping[str, str]) -> dict:
        """Daily candles of one instrument from the account file's history, within [from, to] by date."""
        if not self.rules.historical_data:
            raise KiteError(403, "PermissionException", "Insufficient permission for that call.")
        if interval not in MAX_HISTORY_SPAN:
            raise input_error(f"invalid interval `{interval}`: the paper exchange serves interval `day` only.")
        first, last = self._history_date(params, "from"), self._history_date(params, "to")
        with_oi = self._flag(params, "oi")
        self._flag(params, "continuous")  # continuous series are for futures; on NSE stocks it changes nothing
        if first > last:
            raise input_error(f"invalid date range: `from` ({params['from']}) is after `to` ({params['to']}).")
        limit = MAX_HISTORY_SPAN[interval]
        if last - first > limit:
            raise input_error(f"interval exceeds max limit: {limit.days} days")
        with self._lock:
            symbol = self._instruments().get(int(token)) if token.isascii() and token.isdigit() else None
            if symbol is None:
                raise input_error("invalid token")
            rows = self.storage.history(symbol, first.date(), last.date())
        return {"candles": [payloads.candle(row, with_oi) for row in rows]}

    @staticmethod
    def _history_date(params: Mapping[str, str], name: str) -> datetime:
        text = params.get(name, "").strip()
        for layout in HISTORY_DATE_FORMATS:
            try:
                return datetime.strptime(text, layout)
            except ValueError:
                continue
        raise input_error(f"invalid `{name}` date {text!r}: use yyyy-mm-dd hh:mm:ss.")

    @staticmethod
    def _flag(params: Mapping[str, str], name: str) -> bool:
        value = params.get(name, "0")
        if value not in ("0", "1"):
            raise input_error(f"invalid `{name}` {value!r}: use 0 or 1.")
        return value == "1"

    # -- login and sessions -------------------------------------------------------------------

    def login_redirect(self, api_key: str, redirect_params: str | None, user_id: str | None = None) -> str:
        """Kite's login page, minus the person: approve at once and send the browser back.

        An app shared by family accounts logs in its first account, or the one `user_id` names
        (what typing that person's credentials would do).
        """
        with self._lock, self.storage.transaction():
            account = self.storage.account_by_api_key(api_key or "", user_id)
            if account is None and user_id:
                raise input_error(f"No paper account {user_id} uses this api_key.")
            if account is None:
                raise input_error(
                    "Invalid `api_key`: no paper account has it. Check KITE_API_KEY and the account file."
                )
            token = secrets.token_hex(16)
            self.storage.insert_request_token(token, account["user_id"], stamp(self.clock()))
        query = {"action": "login", "type": "login", "status": "success", "request_token": token}
        extra = parse_qsl(redirect_params or "", keep_blank_values=True)
        url = account["redirect_url"]
        return f"{url}{'&' if '?' in url else '?'}{urlencode([*query.items(), *extra])}"

    def create_session(self, api_key: str, request_token: str, checksum: str) -> dict:
        now = self.clock()
        with self._lock, self.storage.transaction():
            app_account = self.storage.account_by_api_key(api_key)
            if app_account is None:
                raise token_error("Invalid `api_key`.")
            expected = hashlib.sha256((api_key + request_token + app_account["api_secret"]).encode()).hexdigest()
            if not secrets.compare_digest(expected.encode(), checksum.encode()):
                raise token_error("Invalid `checksum`.")
            issued = self.storage.request_token(request_token)
            account = self.storage.account(issued["user_id"]) if issued else None
            if (
                account is None
                or issued["used"]
                or account["api_key"] != api_key
                or now - self._parse_stamp(issued["issued_at"])
                > timedelta(seconds=self.rules.request_token_ttl_seconds)
            ):
                raise token_error("Token is invalid or has expired.")
            self.storage.use_request_token(request_token)
            access_token = secrets.token_hex(16)
            session = {
                "access_token": access_token,
                "user_id": account["user_id"],
                "public_token": secrets.token_hex(16),
                "issued_at": stamp(now),
                "expires_at": stamp(self._token_expiry(now)),
            }
            self.storage.insert_session(session)
        return {
            **payloads.profile(account),
            "api_key": api_key,
            "access_token": access_token,
            "public_token": session["public_token"],
            "enctoken": "",
            "refresh_token": "",
            "silo": "",
            "login_time": session["issued_at"],
        }

    @staticmethod
    def _parse_stamp(text: str) -> datetime:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)

    @staticmethod
    def _token_expiry(now: datetime) -> datetime:
        local = now.astimezone(IST)
        expiry = datetime.combine(local.date(), TOKEN_EXPIRY, IST)
        return expiry if local < expiry else expiry + timedelta(days=1)

    def invalidate_session(self, api_key: str, access_token: str) -> bool:
        with self._lock, self.storage.transaction():
            session = self.storage.session(access_token or "")
            account = self.storage.account(session["user_id"]) if session else None
            if account is None or account["api_key"] != api_key:
                raise token_error()
            self.storage.revoke_session(access_token)
        return True

    def expire_sessions(self, user_id: str) -> int:
        """Admin: end every session of the user, as a logout elsewhere would."""
        with self._lock, self.storage.transaction():
            self._require_account(user_id)
            return self.storage.revoke_sessions(user_id)

    def authenticate(self, authorization: str | None, bucket: str) -> str:
        """The user id behind `Authorization: token api_key:access_token`, within the rate limit."""
        scheme, _, credentials = (authorization or "").partition(" ")
        api_key, _, access_token = credentials.partition(":")
        if scheme != "token" or not api_key or not access_token:
            raise token_error()
        with self._lock:
            session = self.storage.session(access_token)
            account = self.storage.account(session["user_id"]) if session else None
            if account is None or session["revoked"] or account["api_key"] != api_key:
                raise token_error()
            if self.rules.token_expiry and self.clock() >= self._parse_stamp(session["expires_at"]):
                raise token_error()
        if not self._limiter.allow(f"{bucket}:{account['user_id']}", self._limits(bucket)):
            self.refused_for_rate += 1
            raise too_many_requests()
        return account["user_id"]

    def _limits(self, bucket: str) -> list[tuple[int, float]]:
        if bucket == "orders":
            return [(self.rules.order_rate_limit, 1.0), (self.rules.order_rate_limit_per_minute, 60.0)]
        if bucket == "quote":
            return [(self.rules.quote_rate_limit, 1.0)]
        if bucket == "historical":
            return [(self.rules.historical_rate_limit, 1.0)]
        return [(self.rules.api_rate_limit, 1.0)]

    def _require_account(self, user_id: str) -> Mapping:
        account = self.storage.account(user_id)
        if account is None:
            raise KiteError(404, "GeneralException", f"No paper account {user_id}.")
        return account

    # -- reads --------------------------------------------------------------------------------

    def profile(self, user_id: str) -> dict:
        with self._lock:
            return payloads.profile(self._require_account(user_id))

    def margins(self, user_id: str, segment: str | None = None) -> dict:
        with self._lock, self.storage.transaction():
            self._catch_up(user_id, self.clock())
            equity = payloads.equity_margins(**self._funds(user_id))
        segments = {"equity": equity, "commodity": payloads.disabled_segment(equity)}
        if segment is None:
            return segments
        if segment not in segments:
            raise input_error(f"Invalid segment `{segment}`: use equity or commodity.")
        return segments[segment]

    def _funds(self, user_id: str) -> dict[str, float]:
        """Cash at the open, what can be spent now, and today's sale money (all of it, and the held-back part)."""
        account = self.storage.account(user_id)
        totals = self._day_totals(user_id, date.fromisoformat(account["business_date"])).values()
        held_back_share = 0.0 if self.rules.sale_proceeds == "same_day" else BLOCKED_SHARE_OLD_RULE
        blocked = sum(t.t1_sale_value + t.settled_sale_value * held_back_share for t in totals)
        waiting_buys = 0.0
        for order in self.storage.orders_with_status(user_id, WAITING):
            if order["transaction_type"] == "BUY":
                limit = order["price"] if order["order_type"] == "LIMIT" else None
                unit = limit or self.storage.price(order["symbol"])["last_price"]
                waiting_buys += (order["quantity"] - order["filled_quantity"]) * unit
        opening = account["opening_balance"]
        bought = sum(t.buy_value for t in totals)
        sold = sum(t.sell_value for t in totals)
        return {
            "opening": opening,
            "net": opening - bought - waiting_buys + sold - blocked,
            "holding_sales": sum(t.settled_sale_value + t.t1_sale_value for t in totals),
            "blocked": blocked,
        }

    def _day_totals(self, user_id: str, day: date, symbol: str | None = None) -> dict[str, DayTotals]:
        totals = {}
        for row in self.storage.day_totals(user_id, day.isoformat(), symbol):
            fields = dict(row)
            symbol_of_row = fields.pop("symbol")
            totals[symbol_of_row] = DayTotals(**fields)
        return totals

    def holdings(self, user_id: str) -> list[dict]:
        with self._lock, self.storage.transaction():
            self._catch_up(user_id, self.clock())
            day = self.storage.account(user_id)["business_date"]
            totals = self._day_totals(user_id, date.fromisoformat(day))
            return [
                payloads.holding(row, self.storage.price(row["symbol"]), totals.get(row["symbol"], DayTotals()), day)
                for row in self.storage.holdings(user_id)
            ]

    def positions(self, user_id: str) -> dict:
        """Today's CNC trades: buys not yet in holdings, sells of holdings as negative quantities."""
        with self._lock, self.storage.transaction():
            self._catch_up(user_id, self.clock())
            day = date.fromisoformat(self.storage.account(user_id)["business_date"])
            rows = [
                payloads.position(symbol, totals, self.storage.price(symbol))
                for symbol, totals in sorted(self._day_totals(user_id, day).items())
            ]
        # CNC positions have no overnight part: the day book and the net book are the same.
        return {"net": rows, "day": [dict(row) for row in rows]}

    def quote(self, instruments: list[str], mode: str) -> dict:
        if not self.rules.market_data:
            raise KiteError(403, "PermissionException", "Insufficient permission for that call.")
        if not instruments:
            raise input_error("No instruments given: pass i=NSE:SYMBOL, once per instrument.")
        if len(instruments) > MAX_INSTRUMENTS[mode]:
            raise input_error(f"Too many instruments: at most {MAX_INSTRUMENTS[mode]} per {mode} request.")
        symbols = {}
        for instrument in instruments:
            exchange, _, symbol = instrument.partition(":")
            if exchange != "NSE" or not symbol:
                raise input_error(f"Invalid instrument `{instrument}`: the paper exchange quotes NSE:SYMBOL only.")
            symbols[instrument] = symbol
        self._fetch_unknown_prices(sorted(set(symbols.values())))
        with self._lock, self.storage.transaction():
            now = self.clock()
            self._roll_market(now)
            prices = self._require_prices(sorted(set(symbols.values())))
        return {
            instrument: payloads.quote(symbol, prices[symbol], self._circuit(prices[symbol]), mode, stamp(now))
            for instrument, symbol in symbols.items()
        }

    def orders(self, user_id: str) -> list[dict]:
        with self._lock, self.storage.transaction():
            now = self.clock()
            self._catch_up(user_id, now)
            self._poll([o for o in self.storage.orders_with_status(user_id, ["OPEN"])], now)
            day = self.storage.account(user_id)["business_date"]
            return [payloads.order(row) for row in self.storage.orders(user_id, day)]

    def order_history(self, user_id: str, order_id: str) -> list[dict]:
        with self._lock, self.storage.transaction():
            now = self.clock()
            self._catch_up(user_id, now)
            order = self._require_order(user_id, order_id)
            if order["status"] == "OPEN":
                self._poll([order], now)
                order = self.storage.order(user_id, order_id)
            return [payloads.order(order, event) for event in self.storage.order_events(order_id)]

    def trades(self, user_id: str) -> list[dict]:
        with self._lock, self.storage.transaction():
            self._catch_up(user_id, self.clock())
            day = self.storage.account(user_id)["business_date"]
            return [payloads.trade(row) for row in self.storage.trades(user_id, day)]

    def order_trades(self, user_id: str, order_id: str) -> list[dict]:
        with self._lock, self.storage.transaction():
            self._catch_up(user_id, self.clock())
            self._require_order(user_id, order_id)
            return [payloads.trade(row) for row in self.storage.order_trades(order_id)]

    def _require_order(self, user_id: str, order_id: str) -> Mapping:
        order = self.storage.order(user_id, order_id)
        if order is None:
            raise input_error(f"Couldn't find that `order_id` ({order_id}).")
        return order

    # -- orders -------------------------------------------------------------------------------

    def check_order_origin(self, client_ip: str | None) -> None:
        """Since April 2026 Kite takes order requests only from the account's whitelisted static IP."""
        if not self.rules.ip_whitelist:
            return
        try:
            address = ipaddress.ip_address(client_ip or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in self._whitelist):
            raise KiteError(
                403,
                "PermissionException",
                f"Order requests are accepted only from your whitelisted static IP; this one came from "
                f"{client_ip}. Send orders from that machine, or add the address under IP Whitelist at "
                "developers.kite.trade (the paper exchange: rules.whitelisted_ips).",
            )

    def place_order(self, user_id: str, variety: str, form: Mapping[str, str], client_ip: str | None) -> str:
        self.check_order_origin(client_ip)
        request = parse_order(variety, form, self.rules)
        self._fetch_unknown_prices([request.symbol])
        with self._lock, self.storage.transaction():
            now = self.clock()
            self._catch_up(user_id, now)
            if request.variety == "regular" and not self._market_open(now):
                raise input_error(
                    "Markets are closed right now. Use GTT for placing long standing orders instead. "
                    "(NSE trades 09:15-15:30 IST on trading days; variety=amo queues an order for the next session.)"
                )
            if request.variety == "amo" and self.rules.market_hours and self.calendar.is_open(now):
                raise input_error(
                    "AMO orders are taken only outside market hours (09:15-15:30 IST); place a regular order."
                )
            price = self._require_prices([request.symbol])[request.symbol]
            if request.transaction_type == "SELL":
                self._check_holdings(user_id, request)
            else:
                self._check_funds(user_id, request, price)
            return self._create_order(user_id, request, price, now)

    def _check_holdings(self, user_id: str, request: OrderRequest) -> None:
        account = self.storage.account(user_id)
        day = date.fromisoformat(account["business_date"])
        totals = self._day_totals(user_id, day, request.symbol).get(request.symbol, DayTotals())
        holding = self.storage.holding(user_id, request.symbol)
        settled = (holding["quantity"] if holding else 0) - totals.sold_settled
        t1 = (holding["t1_quantity"] if holding else 0) - totals.sold_t1
        bought_today = totals.buy_quantity - totals.sold_from_today
        waiting = sum(
            order["quantity"] - order["filled_quantity"]
            for order in self.storage.orders_with_status(user_id, WAITING)
            if order["symbol"] == request.symbol and order["transaction_type"] == "SELL"
        )
        free = settled + t1 + bought_today - waiting
        if self.rules.holdings_check and request.quantity > free:
            raise KiteError(
                400,
                "HoldingException",
                f"Insufficient holdings: {max(free, 0)} {request.symbol} can be sold (settled {settled}, "
                f"T1 {t1}, bought today {bought_today}, in open sell orders {waiting}), not {request.quantity}.",
            )
        # Sells draw on settled shares first; only those need the depository's authorisation.
        settled_part = min(request.quantity, max(settled - waiting, 0))
        authorised_left = (
            (holding["authorised_quantity"] if holding else 0) - totals.sold_settled - min(waiting, settled)
        )
        if self.rules.tpin and settled_part > authorised_left:
            raise KiteError(
                428,
                "HoldingException",
                f"Holdings not authorised for sale: {request.symbol} needs {settled_part - max(authorised_left, 0)} "
                "more shares authorised with CDSL (TPIN and OTP) today. Authorise them from Kite's Holdings "
                "page (Authorisation), or submit DDPI so sales need no daily authorisation.",
            )

    def _check_funds(self, user_id: str, request: OrderRequest, price: Mapping) -> None:
        if not self.rules.funds_check:
            return
        slip = self.rules.slippage_percent / 100
        unit = request.price if request.order_type == "LIMIT" else price["last_price"] * (1 + slip)
        required = request.quantity * unit
        available = self._funds(user_id)["net"]
        if round(required, 2) > round(available, 2):  # money is counted in paise
            raise KiteError(
                400,
                "MarginException",
                f"Insufficient funds. Required margin is {required:.2f} but available margin is {available:.2f}.",
            )

    def _create_order(self, user_id: str, request: OrderRequest, price: Mapping, now: datetime) -> str:
        number = self.storage.next_number()
        order_id = f"{now.astimezone(IST):%y%m%d}{number:09d}"
        amo = request.variety == "amo"
        session_day = self._next_session(now) if amo else self._business_day(now)
        self.storage.insert_order(
            {
                "order_id": order_id,
                "user_id": user_id,
                "variety": request.variety,
                "symbol": request.symbol,
                "transaction_type": request.transaction_type,
                "order_type": request.order_type,
                "product": "CNC",
                "validity": request.validity,
                "quantity": request.quantity,
                "price": request.price,
                "market_protection": request.market_protection,
                "tag": request.tag,
                "status": "AMO REQ RECEIVED" if amo else "OPEN",
                "exchange_order_id": f"1{order_id}",
                "placed_at": stamp(now),
                "updated_at": stamp(now),
                "session_date": session_day.isoformat(),
            }
        )
        for status in ("PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING"):
            self._event(order_id, status, None, now)
        if amo:
            self._event(order_id, "AMO REQ RECEIVED", None, now)
            return order_id
        self._event(order_id, "OPEN", None, now)
        order = self.storage.order(user_id, order_id)
        refusal = self._outside_band(request.order_type, request.price, request.symbol, price)
        if refusal:
            self._stop(order, now, refusal)
        elif self.rules.fill_polls == 1:
            self._try_fill(order, now)
        return order_id

    def _event(self, order_id: str, status: str, message: str | None, now: datetime) -> None:
        self.storage.add_order_event(order_id, status, message, stamp(now))

    def _finish(self, order: Mapping, status: str, now: datetime, message: str | None = None) -> None:
        left = order["quantity"] - order["filled_quantity"]
        self.storage.update_order(
            order["order_id"],
            status=status,
            status_message=message,
            cancelled_quantity=left if status == "CANCELLED" else 0,
            updated_at=stamp(now),
        )
        self._event(order["order_id"], status, message, now)

    def _poll(self, orders: list[Mapping], now: datetime) -> None:
        for order in orders:
            self.storage.update_order(order["order_id"], polls=order["polls"] + 1)
            self._try_fill(self.storage.order(order["user_id"], order["order_id"]), now)

    def _try_fill(self, order: Mapping, now: datetime, market_open: bool | None = None) -> None:
        """Fill what the market allows now: all of it, or one part when fills are spread over polls.

        Kite's RMS checks again when an order reaches the market: a LIMIT price outside the day's
        band, or a buy the funds no longer cover, is rejected (the unfilled rest of a part-filled
        order is cancelled).
        """
        if market_open is None:
            market_open = self._market_open(now)
        if order["status"] != "OPEN" or not market_open:
            return
        price = self.storage.price(order["symbol"])
        refusal = self._outside_band(order["order_type"], order["price"], order["symbol"], price)
        if refusal:
            self._stop(order, now, refusal)
            return
        fill = self._fill_price(order, price)
        if fill is None:
            return
        left = order["quantity"] - order["filled_quantity"]
        part = left if self.rules.fill_polls == 1 else min(left, math.ceil(order["quantity"] / self.rules.fill_polls))
        if order["transaction_type"] == "BUY" and self.rules.funds_check:
            reserved = part * (order["price"] if order["order_type"] == "LIMIT" else price["last_price"])
            available = self._funds(order["user_id"])["net"] + reserved
            if round(part * fill, 2) > round(available, 2):
                self._stop(
                    order,
                    now,
                    f"RMS: Insufficient funds. Required margin is {part * fill:.2f} "
                    f"but available margin is {available:.2f}.",
                )
                return
        self._record_trade(order, part, fill, now)

    def _fill_price(self, order: Mapping, price: Mapping) -> float | None:
        """Where the order fills now, or None when the market does not let it."""
        last = price["last_price"]
        lower, upper = self._circuit(price)
        buying = order["transaction_type"] == "BUY"
        if self.rules.circuit_limits and (last >= upper if buying else last <= lower):
            return None  # locked at the circuit: nobody on the other side
        slip = self.rules.slippage_percent / 100
        fill = last * (1 + slip) if buying else last * (1 - slip)
        if self.rules.circuit_limits:
            fill = min(max(fill, lower), upper)
        if order["order_type"] == "LIMIT":
            if (buying and last > order["price"]) or (not buying and last < order["price"]):
                return None
            fill = min(fill, order["price"]) if buying else max(fill, order["price"])
        elif order["market_protection"] > 0:
            bound = order["market_protection"] / 100
            fill = min(fill, last * (1 + bound)) if buying else max(fill, last * (1 - bound))
        return round(fill, 2)

    def _outside_band(self, order_type: str, limit: float, symbol: str, price: Mapping) -> str | None:
        if not self.rules.circuit_limits or order_type != "LIMIT":
            return None
        lower, upper = self._circuit(price)
        if lower <= limit <= upper:
            return None
        return (
            f"RMS:Rule: Order price {limit:.2f} is outside the day's circuit limits "
            f"({lower:.2f} - {upper:.2f}) for NSE:{symbol}."
        )

    def _stop(self, order: Mapping, now: datetime, message: str) -> None:
        self._finish(order, "REJECTED" if order["filled_quantity"] == 0 else "CANCELLED", now, message)

    def _record_trade(self, order: Mapping, quantity: int, price: float, now: datetime) -> None:
        user_id, symbol = order["user_id"], order["symbol"]
        day = self.storage.account(user_id)["business_date"]
        from_settled = from_t1 = 0
        if order["transaction_type"] == "SELL":
            totals = self._day_totals(user_id, date.fromisoformat(day), symbol).get(symbol, DayTotals())
            holding = self.storage.holding(user_id, symbol)
            settled = max((holding["quantity"] if holding else 0) - totals.sold_settled, 0)
            t1 = max((holding["t1_quantity"] if holding else 0) - totals.sold_t1, 0)
            from_settled = min(quantity, settled)
            from_t1 = min(quantity - from_settled, t1)
        self.storage.insert_trade(
            {
                "trade_id": f"{self.storage.next_number():08d}",
                "order_id": order["order_id"],
                "user_id": user_id,
                "symbol": symbol,
                "transaction_type": order["transaction_type"],
                "quantity": quantity,
                "price": price,
                "from_settled": from_settled,
                "from_t1": from_t1,
                "business_date": day,
                "at": stamp(now),
            }
        )
        filled = order["filled_quantity"] + quantity
        average = (order["filled_quantity"] * order["average_price"] + quantity * price) / filled
        status = "COMPLETE" if filled == order["quantity"] else "OPEN"
        self.storage.update_order(
            order["order_id"], filled_quantity=filled, average_price=average, status=status, updated_at=stamp(now)
        )
        self._event(order["order_id"], status, None, now)

    def cancel_order(self, user_id: str, variety: str, order_id: str, client_ip: str | None) -> str:
        self.check_order_origin(client_ip)
        with self._lock, self.storage.transaction():
            now = self.clock()
            self._catch_up(user_id, now)
            order = self._require_order(user_id, order_id)
            if order["variety"] != variety:
                raise input_error(
                    f"Order {order_id} is a {order['variety']} order: cancel it with variety={order['variety']}."
                )
            if order["status"] not in WAITING:
                raise input_error(f"Order cannot be cancelled as it is {order['status']}.")
            self._finish(order, "CANCELLED", now, "Cancelled by the user.")
        return order_id

    # -- admin --------------------------------------------------------------------------------

    def authorise_holdings(self, user_id: str, quantities: Mapping[str, int]) -> None:
        """Admin: what the CDSL TPIN page does, authorising today's sale of these quantities."""
        with self._lock, self.storage.transaction():
            self._require_account(user_id)
            self._catch_up(user_id, self.clock())
            for symbol, quantity in quantities.items():
                holding = self.storage.holding(user_id, symbol)
                if holding is None or holding["quantity"] <= 0:
                    raise input_error(f"{user_id} holds no settled {symbol} to authorise.")
                if quantity > holding["quantity"]:
                    raise input_error(
                        f"{user_id} holds {holding['quantity']} settled {symbol}; cannot authorise {quantity}."
                    )
                self.storage.authorise(user_id, symbol, quantity)
