"""The paper exchange's broker: accounts, orders, fills and Kite's rules, with Kite-shaped answers.

`PaperExchange` wires the parts, each with one job: sessions (who may call), settlement (what each
session's end does), matching (orders and fills), accounts (what is owned and spendable) and the
price book (prices, quotes, instruments, candles). Every call runs under one lock in one SQLite
transaction, and an account is first brought up to the clock's time (`Settlement.catch_up`). Time
only moves through the injected clock. The HTTP layer (app.py) only translates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from niftybaskets.market import Clock, NseCalendar, system_clock
from niftybaskets.paper.account_file import AccountFile, Rules
from niftybaskets.paper.accounts import Accounts
from niftybaskets.paper.faults import FaultQueue
from niftybaskets.paper.hours import TradingHours
from niftybaskets.paper.market_data import PriceBook, PriceSource
from niftybaskets.paper.matching import Matching
from niftybaskets.paper.orders import parse_order
from niftybaskets.paper.sessions import PaperSessions
from niftybaskets.paper.settlement import Settlement
from niftybaskets.paper.storage import Storage
from niftybaskets.ratelimit import RateLimiter


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
        self._lock = threading.RLock()
        self.hours = TradingHours(self.calendar, self.rules)
        self.sessions = PaperSessions(storage, self.rules, RateLimiter(monotonic))
        self.prices = PriceBook(storage, self.rules)
        self.accounts = Accounts(storage, self.rules)
        self.matching = Matching(storage, self.rules, self.hours, self.prices, self.accounts)
        self.settlement = Settlement(storage, self.hours, self.accounts, self.matching)
        self.resumed: list[str] = []
        if reset:
            storage.wipe()
        held = {symbol for seed in setup.all_accounts() for symbol in (*seed.holdings, *seed.t1_holdings)}
        self._fetch_unknown_prices(sorted(held - set(setup.prices)))
        with self._lock, storage.transaction():
            self._seed(setup)

    @property
    def refused_for_rate(self) -> int:
        """Requests answered 429: a client that keeps Kite's limits sees none."""
        return self.sessions.refused_for_rate

    @contextmanager
    def _books(self, user_id: str | None = None) -> Iterator[datetime]:
        """Under the lock and in one transaction: the clock's time, with `user_id`'s books brought up to it."""
        with self._lock, self.storage.transaction():
            now = self.clock()
            if user_id is not None:
                self.settlement.catch_up(user_id, now)
            yield now

    # -- set-up -------------------------------------------------------------------------------

    def _seed(self, setup: AccountFile) -> None:
        now = self.clock()
        today = self.hours.business_day(now)
        self.storage.init_market(today.isoformat())
        self.settlement.roll_market(
            now
        )  # a saved market from an earlier day closes first: the file's prices are today's
        for symbol, price in setup.prices.items():
            self.storage.upsert_price(symbol, price, None, setup.circuits.get(symbol))
        for symbol, rows in setup.history.items():
            self.storage.replace_history(symbol, rows)
        self.prices.instruments()  # two symbols sharing a token stop the start, not a later request
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
                self.prices.require([symbol])
                average = seed.average_prices.get(symbol) or self.storage.price(symbol)["close_price"]
                self.storage.put_holding(
                    seed.user_id, symbol, seed.holdings.get(symbol, 0), seed.t1_holdings.get(symbol, 0), average
                )

    # -- login and sessions -------------------------------------------------------------------

    def login_redirect(self, api_key: str, redirect_params: str | None, user_id: str | None = None) -> str:
        with self._books() as now:
            return self.sessions.login_redirect(api_key, redirect_params, user_id, now)

    def create_session(self, api_key: str, request_token: str, checksum: str) -> dict:
        with self._books() as now:
            return self.sessions.create(api_key, request_token, checksum, now)

    def invalidate_session(self, api_key: str, access_token: str) -> bool:
        with self._books():
            self.sessions.invalidate(api_key, access_token)
        return True

    def expire_sessions(self, user_id: str) -> int:
        """Admin: end every session of the user, as a logout elsewhere would."""
        with self._books():
            self.accounts.require(user_id)
            return self.storage.revoke_sessions(user_id)

    def authenticate(self, authorization: str | None, bucket: str) -> str:
        """The user id behind `Authorization: token api_key:access_token`, within the bucket's rate limit."""
        with self._lock:  # handlers run on several threads: the count of refusals stays exact
            user_id = self.sessions.user_of(authorization, self.clock())
            self.sessions.count_request(user_id, bucket)
        return user_id

    def check_order_origin(self, client_ip: str | None) -> None:
        self.sessions.check_order_origin(client_ip)

    # -- portfolio ----------------------------------------------------------------------------

    def profile(self, user_id: str) -> dict:
        with self._lock:
            return self.accounts.profile(user_id)

    def margins(self, user_id: str, segment: str | None = None) -> dict:
        with self._books(user_id):
            return self.accounts.margins(user_id, segment)

    def holdings(self, user_id: str) -> list[dict]:
        with self._books(user_id):
            return self.accounts.holdings(user_id)

    def positions(self, user_id: str) -> dict:
        with self._books(user_id):
            return self.accounts.positions(user_id)

    def authorise_holdings(self, user_id: str, quantities: Mapping[str, int]) -> None:
        """Admin: what the CDSL TPIN page does, authorising today's sale of these quantities."""
        with self._books(user_id):
            self.settlement.authorise(user_id, quantities)

    # -- orders -------------------------------------------------------------------------------

    def place_order(self, user_id: str, variety: str, form: Mapping[str, str], client_ip: str | None) -> str:
        self.check_order_origin(client_ip)
        request = parse_order(variety, form, self.rules)
        self._fetch_unknown_prices([request.symbol])
        with self._books(user_id) as now:
            return self.matching.place(user_id, request, now)

    def cancel_order(self, user_id: str, variety: str, order_id: str, client_ip: str | None) -> str:
        self.check_order_origin(client_ip)
        with self._books(user_id) as now:
            self.matching.cancel(user_id, variety, order_id, now)
        return order_id

    def orders(self, user_id: str) -> list[dict]:
        with self._books(user_id) as now:
            return self.matching.order_book(user_id, now)

    def order_history(self, user_id: str, order_id: str) -> list[dict]:
        with self._books(user_id) as now:
            return self.matching.order_history(user_id, order_id, now)

    def trades(self, user_id: str) -> list[dict]:
        with self._books(user_id):
            return self.matching.trades(user_id)

    def order_trades(self, user_id: str, order_id: str) -> list[dict]:
        with self._books(user_id):
            return self.matching.order_trades(user_id, order_id)

    # -- market data --------------------------------------------------------------------------

    def _fetch_unknown_prices(self, symbols: list[str]) -> None:
        """Ask the live source for symbols with no price yet, outside the lock: it may take seconds."""
        if self.price_source is None:
            return
        with self._lock:
            unknown = self.prices.unknown(symbols)
        quotes = self.price_source(unknown) if unknown else {}
        if quotes:
            with self._books():
                self.prices.store(quotes)

    def set_prices(self, updates: Mapping[str, Mapping]) -> None:
        """Admin: move prices; each update has last_price and optionally close_price, lower/upper_circuit."""
        with self._books() as now:
            self.settlement.roll_market(now)  # a new day's prices must not become its previous close
            self.prices.set(updates)

    def known_symbols(self) -> list[str]:
        with self._lock:
            return self.storage.symbols()

    def quote(self, instruments: list[str], mode: str) -> dict:
        symbols = self.prices.quoted_symbols(instruments, mode)
        self._fetch_unknown_prices(sorted(set(symbols.values())))
        with self._books() as now:
            self.settlement.roll_market(now)
            return self.prices.quote(symbols, mode, now)

    def instruments(self, exchange: str | None = None) -> str:
        with self._lock:
            return self.prices.instruments_csv(exchange)

    def historical(self, token: str, interval: str, params: Mapping[str, str]) -> dict:
        with self._lock:
            return self.prices.historical(token, interval, params)
