#!/usr/bin/env python3
"""Research every stock of an NSE index with Gemini and Google Search: one grounded forecast each,
stored in DATA_DIR/niftybaskets.sqlite for generate_portfolio.py."""

import argparse
import logging
import sys
import time

from rich.console import Console

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.research.analyze import AnalyzeError, AnalyzeOptions, analyze, new_run_id, print_summary
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.gemini import Gemini, GeminiKeysRefused
from niftybaskets.research.prompts import load_prompt
from niftybaskets.research.sources import SourceResolver
from niftybaskets.store import Store, StoreError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-i", "--index", default="NIFTY SMALLCAP 250", help="NSE index name (default: %(default)s)")
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
    parser.add_argument("-v", "--verbose", action="store_true", help="log key rests and retries")
    args = parser.parse_args()
    if not 1 <= args.workers <= 64:
        parser.error("--workers must be from 1 to 64")
    if args.max_calls < 1 or not 1 <= args.horizon_days <= 365:
        parser.error("--max-calls must be at least 1 and --horizon-days from 1 to 365")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    console = Console()
    try:
        settings = load_settings()
        settings.require("gemini_keys")
        market = MarketData.from_settings(
            settings, lambda message: console.print(message, markup=False, highlight=False, soft_wrap=True)
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = AnalyzeOptions(
        index=args.index,
        workers=args.workers if args.parallel else 1,
        force_llm=args.force_llm or args.force in ("llm", "both"),
        force_nse=args.force_nse or args.force in ("nse", "both"),
        max_calls=args.max_calls,
        horizon_days=args.horizon_days,
    )
    gemini = Gemini(settings.gemini_keys, settings.gemini_base_url)
    try:
        store = Store(settings.store_path)
    except StoreError as error:  # a bad DATA_DIR or a damaged store
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        forecaster = Forecaster(
            gemini,
            SourceResolver(),
            new_run_id(),
            horizon_days=options.horizon_days,
            prompt=load_prompt("forecast", settings.gemini_model),
            extract=load_prompt("extract_forecast", settings.gemini_model),
        )
        summary = analyze(store, market, gemini, forecaster, options, console)
    except AnalyzeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped; the forecasts made so far are kept.", file=sys.stderr)
        return 1
    finally:
        store.close()
    print_summary(summary, gemini, console, time.monotonic() - started)
    if isinstance(summary.halt, GeminiKeysRefused):  # a setting to fix: keys named by number only
        print(f"error: {summary.halt}", file=sys.stderr)
        return 2
    researched = len(summary.done) + len(summary.cached)
    if researched or not (summary.failed or summary.stopped):
        return 0
    if summary.halt is not None:
        print(f"error: {summary.halt}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
