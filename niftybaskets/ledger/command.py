"""What `scripts/score_ledger.py` does: published baskets -> prices -> scores -> docs/performance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from kiteconnect import exceptions as kite_errors
from rich.console import Console
from rich.progress import Progress

from niftybaskets.config import ConfigError, Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.sessions import Sessions, login_command
from niftybaskets.ledger.history import HistoryError, KiteHistory, NseHistory, PriceHistory
from niftybaskets.ledger.published import published_baskets
from niftybaskets.ledger.score import Ledger, price_needs, score_ledger
from niftybaskets.market import Clock, NseCalendar, system_clock
from niftybaskets.research.nse import NseClient
from niftybaskets.site.index_page import update_index
from niftybaskets.site.performance import rupees, write_performance
from niftybaskets.store import Store


class LedgerError(ValueError):
    """Nothing to score as asked; the message says what to do."""


@dataclass(frozen=True)
class ScoreRequest:
    index: str | None  # None: every index with a published basket
    source: str  # "nse" or "kite"
    entry: str  # "open" or "close"


def price_source(settings: Settings, store: Store, source: str, say: Callable[[str], None]) -> NseHistory | KiteHistory:
    if source == "nse":
        return NseHistory(NseClient(settings.nse_base_url))
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
    history_source: NseHistory | KiteHistory | None = None,
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
    store, prices_store = Store(settings.store_path), Store(settings.prices_path)
    changed: list[Path] = []
    try:
        source = history_source or price_source(settings, store, request.source, console.print)
        history = PriceHistory(prices_store, source, clock)
        for index in sorted({b.index for b in baskets}):
            of_index = [b for b in baskets if b.index == index]
            needs = price_needs(of_index, calendar, now)
            if needs:
                stocks = len(needs) - (index in needs)
                console.print(f"{index}: prices of {stocks} stocks and the index from {source.name} ...")
            with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
                task = progress.add_task("prices", total=len(needs))
                prices = history.load(needs, {index}, lambda symbol, task=task: progress.advance(task))
            ledger = score_ledger(index, of_index, prices, calendar, now, request.entry)
            index_problems = [p for p in problems if p.startswith(f"{index}__")]
            changed += write_performance(docs, ledger, source.name, prices, index_problems)
            console.print(summary_line(ledger))
        console.print(f"Asked {source.name} {source.calls} times; the rest came from {settings.prices_path}.")
    finally:
        store.close()
        prices_store.close()
    index_page = docs / "index.md"
    before = index_page.read_text(encoding="utf-8") if index_page.exists() else None
    update_index(docs)
    if index_page.read_text(encoding="utf-8") != before:
        changed.append(index_page)
    for problem in problems:
        console.print(f"[yellow]warning:[/] not scored: {problem}")
    return changed
