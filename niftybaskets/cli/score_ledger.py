"""Score every published basket whose horizon has passed against what the market did: its return
after Indian delivery costs against the index, each forecast against its target, and Rs 1 lakh
following every basket. Writes docs/performance/{index}.md with charts, and a score on each basket's page."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from kiteconnect import exceptions as kite_errors
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from niftybaskets.baskets import published_baskets
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import DEFAULT_INDEX, ConfigError, Settings, load_settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.errors import DONE, InputError
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.sessions import Sessions, login_command
from niftybaskets.ledger.history import HistoryError, KiteHistory, PriceHistory, PriceSource, WebHistory
from niftybaskets.ledger.score import Ledger, price_needs, score_ledger
from niftybaskets.market import Clock, NseCalendar, system_clock
from niftybaskets.marketdata.chain import provider
from niftybaskets.price_cache import PriceCache
from niftybaskets.site.index_page import update_index
from niftybaskets.site.performance import rupees, write_performance
from niftybaskets.store import TokenStore

ENVIRONMENT = [
    "MARKET_DATA_SOURCES",
    "NSE_BASE_URL",
    "YAHOO_BASE_URL",
    "NSE_EXTRA_HOLIDAYS",
    "DATA_DIR",
    "DOCS_DIR",
    "KITE_API_KEY",
    "KITE_API_ROOT",
    "KITE_ACCESS_TOKEN",
    "ENCRYPTION_KEY",
]
EXAMPLES = [
    "python3 scripts/score_ledger.py",
    f'python3 scripts/score_ledger.py --index "{DEFAULT_INDEX}" --entry close',
    "python3 scripts/score_ledger.py --source yahoo,nse",
]
NOTE = "The KITE_ and ENCRYPTION_KEY settings are read only for --source kite."
HISTORY_SOURCES = ("nse", "yahoo", "kite")


class LedgerError(InputError, ValueError):
    """Nothing to score as asked; the message says what to do."""


@dataclass(frozen=True)
class ScoreRequest:
    index: str | None  # None: every index with a published basket
    sources: tuple[str, ...]  # in the order to ask them: "nse", "yahoo", "kite"
    entry: str  # "open" or "close"


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=ENVIRONMENT, examples=EXAMPLES, note=NOTE)
    parser.add_argument("-i", "--index", help="score only this NSE index's baskets (default: every index published)")
    parser.add_argument(
        "--source",
        help="where daily prices come from, comma-separated in the order to ask them: nse (NSE's public "
        "history), yahoo (Yahoo Finance), kite (Kite's historical data, if your plan has it; needs a login). "
        "A source that refuses is left and the next one asked (default: the nse and yahoo of MARKET_DATA_SOURCES, "
        "in its order)",
    )
    parser.add_argument(
        "--entry",
        choices=["open", "close"],
        default="open",
        help="buy each basket at the open or the close of the first session after publication (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def score_published(args: argparse.Namespace) -> int:
        console = Console()
        settings = load_settings()
        sources = (
            tuple(name.strip().lower() for name in args.source.split(",") if name.strip())
            if args.source is not None
            else default_history_sources(settings)
        )
        changed = score(settings, ScoreRequest(args.index, sources, args.entry), console)
        if changed:
            console.print(f"Updated {len(changed)} files: " + ", ".join(str(path) for path in changed))
        else:
            console.print("Nothing changed: the published ledger is up to date.")
        return DONE

    return run(build_parser(), argv, score_published)


def default_history_sources(settings: Settings) -> tuple[str, ...]:
    """The sources of daily prices among MARKET_DATA_SOURCES, in its order (Kite only when asked for)."""
    return tuple(name for name in settings.market_data_sources if name in HISTORY_SOURCES)


def kite_history(settings: Settings, store: TokenStore, say: Callable[[str], None]) -> KiteHistory:
    settings.require("kite_api_key", "encryption_key")
    sessions = Sessions(settings, store, fernet_from_key(settings.encryption_key.get_secret_value()), say=say)
    try:
        session = sessions.choose(quiet=True)
    except (requests.RequestException, kite_errors.KiteException) as error:
        raise HistoryError(f"Kite could not check the login ({error}); try again later or use --source nse") from None
    if session is None:
        raise ConfigError(
            f"no Kite login for the historical data: log in with `{login_command()}`, or use --source nse"
        )
    return KiteHistory(KiteClient(sessions.client(session.access_token)))


def price_sources(
    settings: Settings, store: TokenStore, names: tuple[str, ...], say: Callable[[str], None]
) -> list[PriceSource]:
    unknown = [name for name in names if name not in HISTORY_SOURCES]
    if unknown or not names:
        raise ConfigError(
            f"unknown price source {', '.join(unknown) or '(none)'}: choose from {', '.join(HISTORY_SOURCES)}, "
            "comma-separated in the order to ask them"
        )
    return [
        kite_history(settings, store, say) if name == "kite" else WebHistory(provider(settings, name))
        for name in dict.fromkeys(names)
    ]


def summary_line(ledger: Ledger) -> str:
    scored = len(ledger.scored)
    count = len(ledger.baskets)
    line = f"{ledger.index}: {count} basket{'' if count == 1 else 's'}, {scored} scored"
    if ledger.growth:
        last = ledger.growth[-1]
        line += f"; ₹1 lakh following them is {rupees(last.following)} (the index: {rupees(last.index)})"
    if ledger.information_coefficient is not None:
        line += f"; IC {ledger.information_coefficient:+.3f} over {len(ledger.forecasts)} forecasts"
    return line


def score(
    settings: Settings,
    request: ScoreRequest,
    console: Console,
    clock: Clock = system_clock,
    history_sources: list[PriceSource] | None = None,
) -> list[Path]:
    """Score every published basket of the index (or of every index) and write the pages; the files
    changed. Raises LedgerError, ConfigError or HistoryError."""
    docs = settings.docs_dir
    baskets, problems = published_baskets(docs, request.index)
    if not baskets:
        known = sorted({b.index for b in published_baskets(docs)[0]})
        where = f" for {request.index}" if request.index else ""
        hint = f" Indices with baskets: {', '.join(known)}." if known else " Publish one with generate_portfolio.py."
        raise LedgerError(f"no published baskets{where} in {docs / 'baskets'}.{hint}")
    calendar = NseCalendar(settings.nse_extra_holidays)
    now = clock()

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    store, prices_store = TokenStore(settings.store_path), PriceCache(settings.prices_path)
    changed: list[Path] = []
    try:
        sources = history_sources or price_sources(settings, store, request.sources, console.print)
        history = PriceHistory(prices_store, sources, clock, say)
        names = ", then ".join(source.name for source in sources)
        for index in sorted({b.index for b in baskets}):
            of_index = [b for b in baskets if b.index == index]
            needs = price_needs(of_index, calendar, now)
            if needs:
                stocks = len(needs) - (index in needs)
                console.print(f"{index}: prices of {stocks} stocks and the index from {names} ...")
            with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
                task = progress.add_task("prices", total=len(needs))
                prices = history.load(needs, {index}, lambda symbol, task=task: progress.advance(task))
            ledger = score_ledger(index, of_index, prices, calendar, now, request.entry)
            index_problems = [p for p in problems if p.startswith(f"{index}__")]
            answered = {series.source for series in prices.values() if series.days}
            used = [source.name for source in sources if source.name in answered] or [sources[0].name]
            changed += write_performance(docs, ledger, used, prices, index_problems)
            console.print(summary_line(ledger))
        asked = ", ".join(f"{source.name} {source.calls} times" for source in sources)
        console.print(f"Asked {asked}; the rest came from {settings.prices_path}.")
    finally:
        store.close()
        prices_store.close()
    index_page = docs / "index.md"
    before = index_page.read_text(encoding="utf-8") if index_page.exists() else None
    update_index(docs)
    if index_page.read_text(encoding="utf-8") != before:
        changed.append(index_page)
    for problem in problems:
        console.print(f"[yellow]warning:[/] not scored: {escape(problem)}")
    return changed
