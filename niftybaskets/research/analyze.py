"""An index's stocks, one grounded forecast each, and what the run did (a Summary for the caller to show)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

from niftybaskets.errors import NiftyError
from niftybaskets.market import Clock, system_clock
from niftybaskets.marketdata.answers import MarketDataError
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.research.forecasts import Forecaster, ForecastOutcome
from niftybaskets.research.gemini import Gemini, GeminiError
from niftybaskets.store import ResearchStore

log = logging.getLogger(__name__)

CACHE_HOURS = 12
FRESH_LIST_HOURS = 24


class AnalyzeError(NiftyError):
    """The analysis cannot start; the message says what to do."""


@dataclass(frozen=True)
class AnalyzeOptions:
    index: str
    workers: int = 1
    force_llm: bool = False
    force_nse: bool = False
    max_calls: int = 5000
    horizon_days: int = 7


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    # Not started because Gemini cannot serve this run (every key refused, unreachable, or failing
    # for the run's whole patience): `halt` says why.
    stopped: list[str] = field(default_factory=list)
    halt: GeminiError | None = None
    warnings: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    calls_per_key: list[tuple[int, int]] = field(default_factory=list)  # (calls, rate-limited), key #1 first


def load_constituents(
    store: ResearchStore, market: MarketData, index: str, force: bool, clock: Clock, say: Callable[[str], None]
) -> list[dict]:
    """The index's stocks: the stored list while it is fresh, else the first source's that answers
    (falling back to the stored one)."""
    stored = store.constituents(index)
    fresh = (
        stored and min(row["fetched_at"] for row in stored) >= (clock() - timedelta(hours=FRESH_LIST_HOURS)).isoformat()
    )
    if fresh and not force:
        return stored
    try:
        rows, source = market.constituents(index)
    except MarketDataError as error:
        if stored:
            say(f"Warning: {error}; using the {len(stored)} stocks stored earlier.")
            return stored
        raise AnalyzeError(f"could not read the index: {error}") from None
    say(f"{index}: the list of stocks from {source}.")
    store.save_constituents(index, rows, clock().isoformat(), drop_others=True)
    gone = sorted({row["symbol"] for row in stored} - {row["symbol"] for row in rows})
    if gone:
        say(f"Left the index since the last list: {', '.join(gone)}")
    return store.constituents(index)


def analyze(
    store: ResearchStore,
    market: MarketData,
    gemini: Gemini,
    forecaster: Forecaster,
    options: AnalyzeOptions,
    say: Callable[[str], None],
    clock: Clock = system_clock,
    progress: Callable[[int, int], None] = lambda finished, total: None,
) -> Summary:
    """Research the index's stocks not forecast recently; `progress` hears (forecasts finished, to
    research) as they finish. On Ctrl-C the forecasts in progress are kept, then it is raised again."""
    stocks = load_constituents(store, market, options.index, options.force_nse, clock, say)
    summary = Summary()
    since = (clock() - timedelta(hours=CACHE_HOURS)).isoformat()
    todo = []
    for stock in stocks:
        recent = store.forecasts(options.index, since, stock["symbol"], options.horizon_days, forecaster.prompt.model)
        if not options.force_llm and recent:
            summary.cached.append(stock["symbol"])
        else:
            todo.append(stock)
    say(
        f"{options.index}: {len(stocks)} stocks; {len(summary.cached)} forecast in the last {CACHE_HOURS} h "
        f"(reused), {len(todo)} to research with {options.workers} worker(s)."
    )

    def keep(future: Future) -> None:
        try:
            outcome = future.result()
        except Exception as error:  # one stock must never end the run
            symbol = started[future]
            log.exception("%s failed unexpectedly", symbol)
            outcome = ForecastOutcome(symbol, error=f"unexpected error: {type(error).__name__}: {error}")
        for call in outcome.calls:
            store.record_llm_call(call)
            summary.input_tokens += call["input_tokens"]
            summary.output_tokens += call["output_tokens"]
        summary.warnings.extend(outcome.warnings)
        if outcome.forecast is not None:
            store.save_forecast(outcome.forecast)
            summary.done.append(outcome.symbol)
        else:
            summary.failed[outcome.symbol] = outcome.error or "unknown error"
            log.warning("%s failed: %s", outcome.symbol, outcome.error)

    queue = list(todo)
    calls_before = sum(gemini.pool.calls)
    started: dict[Future, str] = {}
    running: set[Future] = set()
    finished_count = 0
    progress(finished_count, len(todo))
    with ThreadPoolExecutor(options.workers) as pool:
        try:
            while queue or running:
                # Submit no more than the workers take; every stock started needs a call at least, so
                # the budget holds (a stock in progress may still need a retry or a second phase).
                while queue and len(running) < options.workers:
                    halt = gemini.halted()
                    if halt is not None:  # every stock not started yet would fail the same way
                        summary.halt = halt
                        summary.stopped.extend(stock["symbol"] for stock in queue)
                        queue.clear()
                        break
                    used = max(sum(gemini.pool.calls) - calls_before, len(started))
                    if used >= options.max_calls:
                        summary.skipped.extend(stock["symbol"] for stock in queue)
                        queue.clear()
                        break
                    stock = queue.pop(0)
                    future = pool.submit(forecaster.forecast, options.index, stock)
                    started[future] = stock["symbol"]
                    running.add(future)
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    keep(future)
                    finished_count += 1
                    progress(finished_count, len(todo))
        except KeyboardInterrupt:
            # The calls in progress are paid for: wait for them and keep what they bring.
            say("Stopping: finishing the forecasts in progress (Ctrl-C again to abandon them)...")
            queue.clear()
            for future in running:
                keep(future)
            raise
    if summary.halt is None and summary.failed:  # the last stocks failed for a reason of the whole run
        summary.halt = gemini.halted()
    summary.calls_per_key = list(zip(gemini.pool.calls, gemini.pool.rate_limited, strict=True))
    return summary


def new_run_id(clock: Clock = system_clock) -> str:
    return f"{clock():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
