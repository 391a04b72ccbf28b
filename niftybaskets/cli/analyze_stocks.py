"""Research every stock of an NSE index with Gemini and Google Search: one grounded forecast each,
stored in DATA_DIR/niftybaskets.sqlite for generate_portfolio.py."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import DEFAULT_INDEX, load_settings
from niftybaskets.errors import DONE, FAILED
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.research.analyze import AnalyzeOptions, Summary, analyze, new_run_id
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.gemini import Gemini, GeminiKeysRefused
from niftybaskets.research.prompts import load_prompt
from niftybaskets.research.sources import SourceResolver
from niftybaskets.store import ResearchStore

ENVIRONMENT = [
    "GEMINI_API_KEYS",
    "GEMINI_MODEL",
    "GEMINI_BASE_URL",
    "MARKET_DATA_SOURCES",
    "NSE_BASE_URL",
    "NIFTY_INDICES_BASE_URL",
    "YAHOO_BASE_URL",
    "DATA_DIR",
]
EXAMPLES = [
    f'python3 scripts/analyze_stocks.py -i "{DEFAULT_INDEX}" -p -w 10 -fl',
    'python3 scripts/analyze_stocks.py -i "NIFTY 50" --max-calls 200',
]
CANCELLED = "stopped; the forecasts made so far are kept."


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=ENVIRONMENT, examples=EXAMPLES)
    parser.add_argument("-i", "--index", default=DEFAULT_INDEX, help="NSE index name (default: %(default)s)")
    parser.add_argument("-p", "--parallel", action="store_true", help="research several stocks at once")
    parser.add_argument("-w", "--workers", type=int, default=10, help="parallel workers with -p (default: %(default)s)")
    parser.add_argument(
        "-fl", "--force-llm", action="store_true", help="research again even if forecast in the last 12 h"
    )
    parser.add_argument("-fn", "--force-nse", action="store_true", help="fetch the index list again; drop leavers")
    parser.add_argument("-f", "--force", choices=["llm", "nse", "both"], help="shorthand for -fl, -fn or both")
    parser.add_argument(
        "--max-calls", type=int, default=5000, help="stop after this many Gemini calls (default: %(default)s)"
    )
    parser.add_argument("--horizon-days", type=int, default=7, help="forecast horizon (default: %(default)s days)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()

    def analyze_stocks(args: argparse.Namespace) -> int:
        if not 1 <= args.workers <= 64:
            parser.error("--workers must be from 1 to 64")
        if args.max_calls < 1 or not 1 <= args.horizon_days <= 365:
            parser.error("--max-calls must be at least 1 and --horizon-days from 1 to 365")
        options = AnalyzeOptions(
            index=args.index,
            workers=args.workers if args.parallel else 1,
            force_llm=args.force_llm or args.force in ("llm", "both"),
            force_nse=args.force_nse or args.force in ("nse", "both"),
            max_calls=args.max_calls,
            horizon_days=args.horizon_days,
        )
        return research(options, Console())

    return run(parser, argv, analyze_stocks, cancelled=CANCELLED)


def research(options: AnalyzeOptions, console: Console) -> int:
    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    settings = load_settings()
    settings.require("gemini_keys")
    market = MarketData.from_settings(settings, say)
    gemini = Gemini(settings.gemini_keys, settings.gemini_base_url)
    store = ResearchStore(settings.store_path)
    started = time.monotonic()
    bar = ForecastBar(console)
    try:
        forecaster = Forecaster(
            gemini,
            SourceResolver(),
            new_run_id(),
            horizon_days=options.horizon_days,
            prompt=load_prompt("forecast", settings.gemini_model),
            extract=load_prompt("extract_forecast", settings.gemini_model),
        )
        summary = analyze(store, market, gemini, forecaster, options, say, progress=bar)
    finally:
        bar.stop()
        store.close()
    print_summary(summary, say, time.monotonic() - started)
    if isinstance(summary.halt, GeminiKeysRefused):  # a setting to fix (exit 2): keys named by number only
        raise summary.halt
    if summary.done or summary.cached or not (summary.failed or summary.stopped):
        return DONE
    if summary.halt is not None:
        raise summary.halt
    return FAILED


class ForecastBar:
    """The research's progress bar, shown once analyze knows how many stocks it researches."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __call__(self, finished: int, total: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("forecasts", total=total)
        self.progress.update(self.task, completed=finished)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


def print_summary(summary: Summary, say: Callable[[str], None], seconds: float) -> None:
    say(
        f"Done: {len(summary.done)} researched, {len(summary.cached)} reused, {len(summary.failed)} failed, "
        f"{len(summary.skipped)} skipped (call budget)"
        + (f", {len(summary.stopped)} not started (Gemini cannot serve this run)" if summary.stopped else "")
        + f" in {seconds:.0f} s; tokens {summary.input_tokens:,} in, {summary.output_tokens:,} out."
    )
    per_key = ", ".join(
        f"#{number}: {calls} ({limited} rate-limited)"
        for number, (calls, limited) in enumerate(summary.calls_per_key, start=1)
    )
    say(f"Calls per key: {per_key}.")
    for symbol, reason in sorted(summary.failed.items()):
        say(f"Failed {symbol}: {reason}")
    for warning in summary.warnings:
        say(f"Warning: {warning}")
    if summary.skipped:
        say(f"Not researched (the --max-calls budget ran out): {', '.join(summary.skipped)}")
    if summary.stopped:
        say(f"Not researched ({summary.halt}): {', '.join(summary.stopped)}")
    elif summary.halt is not None:
        say(f"Stopped: {summary.halt}")
