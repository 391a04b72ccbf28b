"""What `scripts/rebalance_portfolio.py` does: pick the account(s), run, report, keep the audit trail."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiteconnect import KiteConnect
from kiteconnect.exceptions import KiteException
from requests import RequestException
from rich.console import Console

from niftybaskets.actions import add_summary
from niftybaskets.config import ConfigError, Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions
from niftybaskets.market import NseCalendar, system_clock
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.paper.account_file import AccountFileError, load_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.paper.live_prices import market_price_source
from niftybaskets.rebalance.account import PriceError
from niftybaskets.rebalance.basket import Basket, BasketError, load_basket
from niftybaskets.rebalance.execute import AbortRun, OrderRecord, Rebalancer, RunOptions, RunResult, sentences
from niftybaskets.rebalance.report import markdown_summary, print_report, report_data
from niftybaskets.store import Store


@dataclass(frozen=True)
class Request:
    basket: Path
    mode: str  # dry-run, live or paper
    quiet: bool
    user_id: str | None
    all_users: bool
    options: RunOptions
    report_json: Path | None
    basket_root: Path | None
    paper_account: Path
    paper_reset: bool = False


class Command:
    def __init__(
        self, settings: Settings, console: Console, errors: Console, ask: Callable[[str], str] = input
    ) -> None:
        self.settings = settings
        self.console = console
        self.errors = errors
        self.ask = ask
        self.calendar = NseCalendar(settings.nse_extra_holidays)

    def say(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def error(self, message: str) -> None:
        self.errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True, style="red")

    def run(self, request: Request) -> int:
        try:
            basket = load_basket(request.basket, request.basket_root)
        except BasketError as error:
            self.error(f"{error}. Nothing was sent.")
            return 2
        for warning in basket.warnings:
            self.say(f"Warning: {warning}")
        if request.mode == "paper":
            return self._paper(basket, request)
        try:
            self.settings.require("kite_api_key", "encryption_key")
            store = Store(self.settings.store_path)
        except ConfigError as error:
            self.error(str(error))
            return 2
        try:
            sessions = Sessions(
                self.settings, store, fernet_from_key(self.settings.encryption_key.get_secret_value()), say=self.say
            )
            if request.all_users:
                chosen = sessions.stored()
                if not chosen:
                    why = sessions.mismatch_advice() or "log in first: python3 scripts/kite_login.py"
                    raise NoSessionError(f"No valid Kite login stored: {why}")
            else:
                chosen = [sessions.require(request.user_id, request.quiet, self.ask)]
            codes = [self._account(basket, request, sessions, session, store) for session in chosen]
            return max(codes)
        except (ConfigError, NoSessionError) as error:
            self.error(str(error))
            return 2
        except (KiteException, RequestException) as error:
            self.error(f"could not reach Kite at {self.settings.kite_api_root}: {error or type(error).__name__}")
            return 1
        finally:
            store.close()

    def _account(self, basket: Basket, request: Request, sessions: Sessions, session: KiteSession, store: Store) -> int:
        user_id = session.user_id

        def connect() -> KiteClient:
            current = sessions.choose(user_id, quiet=True) or session
            return KiteClient(sessions.client(current.access_token))

        options = request.options
        confirmed = None
        if options.live and not request.quiet:
            try:
                confirmed = self._confirmed(basket, request, connect, user_id)
            except (PriceError, AbortRun) as error:
                self.error(sentences(str(error), "Nothing was sent"))
                return 1
            if confirmed is None:
                return 1
            if not confirmed:
                self.say("Nothing to send: the preview has no orders.")
                return 0
        return self._execute(basket, request, connect, user_id, store, confirmed)

    def _confirmed(
        self, basket: Basket, request: Request, connect: Callable[[], KiteClient], user_id: str
    ) -> list[tuple[str, str, int]] | None:
        """The preview, planned as the live run plans (from today's order book too), and the user's
        answer: the previewed orders when confirmed, else None (and the reason said)."""
        preview = self._rebalancer(basket, RunOptions(**{**request.options.__dict__, "live": False}), connect, user_id)
        result = preview.run()
        print_report(result, self.console)
        if result.exit_code != 0 or result.first_plan is None:
            self.error("the preview could not be made (see above); nothing was sent.")
            return None
        confirmable = [(order.symbol, order.side, order.quantity) for order in result.orders]
        if not confirmable:
            return []
        if request.options.wait and not self.calendar.is_open(system_clock()):
            self.say(
                "The market is closed now: the run waits for it to open, then plans again from the account and "
                "prices then; it sends no stock, side or quantity beyond these (the report will say what it left)."
            )
        answer = self.ask(f"Type CONFIRM to send these orders for {user_id} to Zerodha (live): ")
        if answer.strip() != "CONFIRM":
            self.error("not confirmed; nothing was sent.")
            return None
        return confirmable

    def _rebalancer(
        self,
        basket: Basket,
        options: RunOptions,
        connect: Callable[[], KiteClient],
        user_id: str,
        store: Store | None = None,
        confirmed: list[tuple[str, str, int]] | None = None,
    ) -> Rebalancer:
        def keep(run_id: str, order: OrderRecord) -> None:
            if store is not None:
                fields = {
                    name: getattr(order, name)
                    for name in (
                        "tag",
                        "pass_number",
                        "symbol",
                        "side",
                        "quantity",
                        "order_id",
                        "status",
                        "filled",
                        "average_price",
                        "message",
                    )
                }
                store.record_order(run_id, {**fields, "updated_at": system_clock().isoformat()})

        return Rebalancer(
            connect,
            basket,
            options,
            user_id=user_id,
            clock=system_clock,
            sleep=time.sleep,
            calendar=self.calendar,
            say=self.say,
            market=MarketData.from_settings(self.settings, self.say),
            on_order=keep,
            confirmed=confirmed,
        )

    def _execute(
        self,
        basket: Basket,
        request: Request,
        connect: Callable[[], KiteClient],
        user_id: str,
        store: Store | None,
        confirmed: list[tuple[str, str, int]] | None = None,
    ) -> int:
        rebalancer = self._rebalancer(basket, request.options, connect, user_id, store, confirmed)
        mode = request.mode
        if store is not None:
            store.start_run(
                rebalancer.result.run_id, user_id, str(basket.path), mode, rebalancer.result.started_at.isoformat()
            )
        try:
            result = rebalancer.run()
        except PriceError as error:
            self.error(sentences(str(error), "Nothing was sent"))
            return 1
        except AbortRun as error:
            self.error(str(error))
            return 1
        self._report(result, request, store)
        return result.exit_code

    def _report(self, result: RunResult, request: Request, store: Store | None) -> None:
        print_report(result, self.console)
        data = report_data(result)
        if request.report_json is not None:
            request.report_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            self.say(f"Report written to {request.report_json}")
        add_summary(markdown_summary(result))
        if store is not None:
            store.finish_run(result.run_id, system_clock().isoformat(), json.dumps(data))

    def _paper(self, basket: Basket, request: Request) -> int:
        """Against the paper exchange in this process, on a paper account kept under DATA_DIR/paper."""
        try:
            setup = load_account_file(request.paper_account)
        except AccountFileError as error:
            self.error(str(error))
            return 2
        options = request.options
        if not setup.rules.market_hours:
            options = RunOptions(**{**options.__dict__, "wait": False})  # this paper market never closes
        database = self.settings.data_dir / "paper" / "rebalance.sqlite"
        # A research basket names stocks the account file cannot know: those take a market-data source's
        # last price.
        try:
            prices = market_price_source(MarketData.from_settings(self.settings, self.say))
        except ConfigError as error:
            self.error(str(error))
            return 2
        with EmbeddedExchange(
            setup, database, calendar=self.calendar, reset=request.paper_reset, price_source=prices
        ) as paper:
            kite: KiteConnect = paper.login()
            client = KiteClient(kite)
            self.say(f"Paper exchange at {paper.url}, account {setup.user_id} kept in {database}.")
            store = Store(self.settings.data_dir / "paper" / "rebalance-audit.sqlite")
            try:
                return self._execute(
                    basket, Request(**{**request.__dict__, "options": options}), lambda: client, setup.user_id, store
                )
            finally:
                store.close()
