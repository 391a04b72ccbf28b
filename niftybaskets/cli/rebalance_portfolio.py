"""Trade a Zerodha account to a basket's weights: the fewest whole-share orders, sells first,
repeated until the total deficit is under the target. A dry run (the default) sends nothing."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kiteconnect import KiteConnect
from kiteconnect.exceptions import KiteException
from requests import RequestException
from rich.console import Console
from rich.table import Table

from niftybaskets.actions import add_summary
from niftybaskets.baskets import Basket, BasketError, load_basket, nse_symbol
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import ConfigError, Settings, load_settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.errors import BAD_INPUT, DONE, FAILED
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions
from niftybaskets.market import NseCalendar, system_clock
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.paper.account_file import AccountFileError, load_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.paper.live_prices import market_price_source
from niftybaskets.paper.serve import SAMPLE_ACCOUNT
from niftybaskets.rebalance.account import PriceError
from niftybaskets.rebalance.execute import (
    AbortRun,
    OrderRecord,
    Rebalancer,
    RunMode,
    RunOptions,
    RunResult,
    sentence,
    sentences,
    sessions_until_next_basket,
)
from niftybaskets.rebalance.plan import DEFAULT_COST_WEIGHT, DEFAULT_DRIFT_BAND
from niftybaskets.rebalance.report import (
    after_text,
    charges_text,
    held_after_label,
    markdown_summary,
    order_lines,
    order_reasons,
    report_data,
    skipped_lines,
)
from niftybaskets.store import AuditTrail, TokenStore

ENVIRONMENT = [
    "KITE_API_KEY",
    "KITE_API_SECRET",
    "KITE_API_ROOT",
    "KITE_ACCESS_TOKEN",
    "ENCRYPTION_KEY",
    "MARKET_DATA_SOURCES",
    "NSE_BASE_URL",
    "YAHOO_BASE_URL",
    "NSE_EXTRA_HOLIDAYS",
    "DATA_DIR",
    "GITHUB_STEP_SUMMARY",
]
EXAMPLES = [
    'python3 scripts/rebalance_portfolio.py "docs/baskets/NIFTY 50__Aug_18_2025_09_05__N20_K5.json"',
    "python3 scripts/rebalance_portfolio.py examples/sample_basket.json --paper",
    "python3 scripts/rebalance_portfolio.py BASKET.json --live --quiet --target-deficit 500",
]
CANCELLED = "cancelled; orders already sent stay with Kite: check the order book."


def rupees(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rupees, 0 or more")
    return value


def capital(text: str) -> float:
    value = rupees(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a capital: a number of rupees above 0")
    return value


def percent(text: str) -> float:
    value = rupees(text) if text.strip() else math.nan
    if not value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage from 0 to 100")
    return value


def symbols(text: str) -> frozenset[str]:
    try:
        return frozenset(nse_symbol(part) for part in text.split(",") if part.strip())
    except BasketError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __doc__,
        environment=ENVIRONMENT,
        examples=EXAMPLES,
        note="Set-up, the daily login and what each step does: README_REBALANCING.md.",
        extra_environment={"GITHUB_STEP_SUMMARY": "GitHub Actions' job summary file: the report is added to it"},
    )
    parser.add_argument("basket", type=Path, help="basket JSON, e.g. docs/baskets/NIFTY 50__...json")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="mode", action="store_const", const=RunMode.DRY_RUN, help="plan only (default)")
    mode.add_argument(
        "--live", dest="mode", action="store_const", const=RunMode.LIVE, help="send real orders to Zerodha"
    )
    mode.add_argument(
        "--paper",
        dest="mode",
        action="store_const",
        const=RunMode.PAPER,
        help="trade on the paper exchange, in this process",
    )
    parser.set_defaults(mode=RunMode.DRY_RUN)
    parser.add_argument("--quiet", action="store_true", help="never prompt: no confirmation, first logged-in user")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user-id", help="the Zerodha user to rebalance, when several are logged in")
    who.add_argument("--all-users", action="store_true", help="rebalance every logged-in user, one after another")
    parser.add_argument(
        "--target-deficit", type=rupees, default=0.0, help="stop once the total deficit is at most this (default: 0)"
    )
    parser.add_argument(
        "--min-order-value", type=rupees, default=0.0, help="never send an order worth less than this (default: 0)"
    )
    parser.add_argument("--max-passes", type=int, default=10, help="at most this many passes (default: %(default)s)")
    parser.add_argument(
        "--cost-weight",
        type=rupees,
        default=DEFAULT_COST_WEIGHT,
        help="rupees of deficit (held a session) a rupee of charges is worth: trades that cost more than they "
        "bring are left out; 0 trades to the least deficit whatever it costs (default: %(default)g)",
    )
    parser.add_argument(
        "--drift-band",
        type=percent,
        default=DEFAULT_DRIFT_BAND * 100,
        metavar="PERCENT",
        help="leave alone a basket stock within this %% of its target (default: %(default)g); a basket the "
        "account has not been traded to yet is always traded to in full, with no band and no cost weight",
    )
    parser.add_argument(
        "--capital",
        type=capital,
        help="manage only this much of the account for the basket: targets are weights x capital, and the rest "
        "of the cash is left alone (default: the whole account)",
    )
    parser.add_argument(
        "--keep",
        type=symbols,
        default=frozenset(),
        metavar="SYM,SYM",
        help="holdings left untouched and outside the total (default: none; every stock outside the basket is sold)",
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for 09:14 IST when the market is shut")
    parser.add_argument("--report-json", type=Path, help="also write the report as JSON here")
    parser.add_argument(
        "--basket-root", type=Path, help="refuse a basket outside this folder (the workflow sets docs/baskets)"
    )
    parser.add_argument(
        "--paper-account", type=Path, default=SAMPLE_ACCOUNT, help="account file for --paper (default: %(default)s)"
    )
    parser.add_argument(
        "--paper-reset",
        action="store_true",
        help="with --paper: start from the account file again, not the saved account",
    )
    parser.add_argument(
        "--fill-timeout", type=float, default=120.0, help="seconds to wait for orders to fill (default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()

    def rebalance(args: argparse.Namespace) -> int:
        if not 1 <= args.max_passes <= 10:
            parser.error("--max-passes must be from 1 to 10")
        if not 0 < args.fill_timeout <= 3600:
            parser.error("--fill-timeout must be above 0 and at most 3600 seconds")
        if args.paper_reset and args.mode is not RunMode.PAPER:
            parser.error("--paper-reset goes with --paper")
        settings = load_settings()
        options = RunOptions(
            mode=args.mode,
            wait=not args.no_wait,
            target_deficit=args.target_deficit,
            min_order_value=args.min_order_value,
            max_passes=args.max_passes,
            fill_timeout=args.fill_timeout,
            cost_weight=args.cost_weight,
            drift_band=args.drift_band / 100,
            capital=args.capital,
            keep=args.keep,
        )
        request = Request(
            basket=args.basket,
            quiet=args.quiet,
            user_id=args.user_id,
            all_users=args.all_users,
            options=options,
            report_json=args.report_json,
            basket_root=args.basket_root,
            paper_account=args.paper_account,
            paper_reset=args.paper_reset,
        )
        return Command(settings, Console(), Console(stderr=True)).run(request)

    return run(parser, argv, rebalance, cancelled=CANCELLED)


@dataclass(frozen=True)
class Request:
    basket: Path
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
            return BAD_INPUT
        for warning in basket.warnings:
            self.say(f"Warning: {warning}")
        kept = sorted(request.options.keep & set(basket.weights))
        if kept:
            self.error(
                f"--keep names {', '.join(kept)}, which the basket holds: a basket stock is traded. Nothing was sent."
            )
            return BAD_INPUT
        if request.options.mode is RunMode.PAPER:
            return self._paper(basket, request)
        try:
            self.settings.require("kite_api_key", "encryption_key")
            tokens = TokenStore(self.settings.store_path)
            audit = AuditTrail(self.settings.store_path)
        except ConfigError as error:
            self.error(str(error))
            return BAD_INPUT
        try:
            sessions = Sessions(
                self.settings, tokens, fernet_from_key(self.settings.encryption_key.get_secret_value()), say=self.say
            )
            if request.all_users:
                chosen = sessions.stored()
                if not chosen:
                    why = sessions.mismatch_advice() or "log in first: python3 scripts/kite_login.py"
                    raise NoSessionError(f"No valid Kite login stored: {why}")
            else:
                chosen = [sessions.require(request.user_id, request.quiet, self.ask)]
            codes = [self._account(basket, request, sessions, session, audit) for session in chosen]
            return max(codes)
        except (ConfigError, NoSessionError) as error:
            self.error(str(error))
            return BAD_INPUT
        except (KiteException, RequestException) as error:
            self.error(f"could not reach Kite at {self.settings.kite_api_root}: {error or type(error).__name__}")
            return FAILED
        finally:
            tokens.close()
            audit.close()

    def _account(
        self, basket: Basket, request: Request, sessions: Sessions, session: KiteSession, audit: AuditTrail
    ) -> int:
        user_id = session.user_id

        def connect() -> KiteClient:
            current = sessions.choose(user_id, quiet=True) or session
            return KiteClient(sessions.client(current.access_token))

        request = replace(request, options=self._policy(basket, request.options, user_id, audit))
        options = request.options
        confirmed = None
        if options.mode.sends_orders and not request.quiet:
            try:
                confirmed = self._confirmed(basket, request, connect, user_id)
            except (PriceError, AbortRun) as error:
                self.error(sentences(str(error), "Nothing was sent"))
                return FAILED
            if confirmed is None:
                return FAILED
            if not confirmed:
                self.say("Nothing to send: the preview has no orders.")
                return DONE
        return self._execute(basket, request, connect, user_id, audit, confirmed)

    def _policy(self, basket: Basket, options: RunOptions, user_id: str, audit: AuditTrail | None) -> RunOptions:
        """The run's options for this account: a basket not traded to yet is traded to in full."""
        sessions = sessions_until_next_basket(self.calendar, basket.created, system_clock().date())
        if audit is not None and audit.traded_to(user_id, basket.path.name):
            return replace(options, sessions_left=sessions)
        if options.cost_weight or options.drift_band:
            self.say(
                f"{user_id} has not been traded to this basket yet: trading to it in full (no band, no cost weight)."
            )
        return replace(options, sessions_left=sessions, cost_weight=0.0, drift_band=0.0)

    def _confirmed(
        self, basket: Basket, request: Request, connect: Callable[[], KiteClient], user_id: str
    ) -> list[tuple[str, str, int]] | None:
        """The preview, planned as the live run plans (from today's order book too), and the user's
        answer: the previewed orders when confirmed, else None (and the reason said)."""
        preview = self._rebalancer(basket, replace(request.options, mode=RunMode.DRY_RUN), connect, user_id)
        result = preview.run()
        print_report(result, self.console)
        if result.failed or result.first_plan is None:
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
        where = "Zerodha" if request.options.mode is RunMode.LIVE else "the paper exchange"
        answer = self.ask(f"Type CONFIRM to send these orders for {user_id} to {where} ({request.options.mode}): ")
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
        audit: AuditTrail | None = None,
        confirmed: list[tuple[str, str, int]] | None = None,
    ) -> Rebalancer:
        def keep(run_id: str, order: OrderRecord) -> None:
            if audit is not None:
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
                audit.record_order(run_id, {**fields, "updated_at": system_clock().isoformat()})

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
        audit: AuditTrail | None,
        confirmed: list[tuple[str, str, int]] | None = None,
    ) -> int:
        rebalancer = self._rebalancer(basket, request.options, connect, user_id, audit, confirmed)
        if audit is not None:
            audit.start_run(
                rebalancer.result.run_id,
                user_id,
                str(basket.path),
                request.options.mode,
                rebalancer.result.started_at.isoformat(),
            )
        try:
            result = rebalancer.run()
        except PriceError as error:
            self.error(sentences(str(error), "Nothing was sent"))
            return FAILED
        except AbortRun as error:
            self.error(str(error))
            return FAILED
        self._report(result, request, audit)
        return FAILED if result.failed else DONE

    def _report(self, result: RunResult, request: Request, audit: AuditTrail | None) -> None:
        print_report(result, self.console)
        data = report_data(result)
        if request.report_json is not None:
            request.report_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            self.say(f"Report written to {request.report_json}")
        add_summary(markdown_summary(result))
        if audit is not None:
            audit.finish_run(result.run_id, system_clock().isoformat(), json.dumps(data))

    def _paper(self, basket: Basket, request: Request) -> int:
        """Against the paper exchange in this process, on a paper account kept under DATA_DIR/paper."""
        try:
            setup = load_account_file(request.paper_account)
        except AccountFileError as error:
            self.error(str(error))
            return BAD_INPUT
        options = request.options
        if not setup.rules.market_hours:
            options = replace(options, wait=False)  # this paper market never closes
        database = self.settings.data_dir / "paper" / "rebalance.sqlite"
        # A research basket names stocks the account file cannot know: those take a market-data source's
        # last price.
        try:
            prices = market_price_source(MarketData.from_settings(self.settings, self.say))
        except ConfigError as error:
            self.error(str(error))
            return BAD_INPUT
        with EmbeddedExchange(
            setup, database, calendar=self.calendar, reset=request.paper_reset, price_source=prices
        ) as paper:
            kite: KiteConnect = paper.login()
            client = KiteClient(kite)
            self.say(f"Paper exchange at {paper.url}, account {setup.user_id} kept in {database}.")
            audit = AuditTrail(self.settings.data_dir / "paper" / "rebalance-audit.sqlite")
            try:
                # A reset account starts from the account file: whatever was traded before is gone.
                options = self._policy(basket, options, setup.user_id, None if request.paper_reset else audit)
                return self._execute(basket, replace(request, options=options), lambda: client, setup.user_id, audit)
            finally:
                audit.close()


def print_report(result: RunResult, console: Console) -> None:
    data = report_data(result)
    if result.first_plan is None:  # it stopped before looking at the account
        console.print(sentence(f"Stopped before planning: {data['stop_reason']}"), highlight=False, markup=False)
        return
    table = Table(title=f"Rebalance {data['run_id']} of {data['user_id']} ({data['mode']})")
    for column in (
        "stock",
        "weight",
        "price",
        "from",
        "held",
        "target ₹",
        "orders",
        "charges ₹",
        held_after_label(result),
    ):
        table.add_column(column, justify="left" if column in ("stock", "from", "orders") else "right")
    lines = order_lines(result)
    for stock in data["stocks"]:
        orders = lines.get(stock["symbol"], [])
        table.add_row(
            stock["symbol"],
            f"{stock['weight']:.1%}",
            f"{stock['price']:,.2f}",
            stock["price_source"] or "?",
            str(stock["held_before"]),
            f"{stock['target_value']:,.0f}",
            ", ".join(orders) or "-",
            f"{stock['charges']:,.2f}",
            "?" if stock["held_after"] is None else str(stock["held_after"]),
        )
    console.print(table)
    console.print(
        f"Total value ₹{data['total_value']:,.0f}; deficit before ₹{data['deficit']['before']:,.0f} "
        f"({data['deficit']['before_percent']:.2f}%), {after_text(data['deficit'])}; {charges_text(data['charges'])}.",
        highlight=False,
    )
    for line in [*order_reasons(result), *skipped_lines(data)]:
        console.print(line, highlight=False, markup=False)
    for line in [*data["warnings"], *data["notes"]]:
        console.print(sentence(f"Note: {line}"), highlight=False, markup=False)
    console.print(sentence(f"Stopped: {data['stop_reason']}"), highlight=False, markup=False)
