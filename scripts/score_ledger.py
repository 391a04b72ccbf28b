#!/usr/bin/env python3
"""Score every published basket whose horizon has passed against what the market did: its return
after Indian delivery costs against the index, each forecast against its target, and Rs 1 lakh
following every basket. Writes docs/performance/{index}.md with charts, and a score on each basket's page."""

import argparse
import logging
import sys

from rich.console import Console

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.ledger.command import LedgerError, ScoreRequest, default_history_sources, score
from niftybaskets.ledger.history import HistoryError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
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
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the price sources are asked")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    console = Console()
    try:
        settings = load_settings()
        sources = (
            tuple(name.strip().lower() for name in args.source.split(",") if name.strip())
            if args.source is not None
            else default_history_sources(settings)
        )
        changed = score(settings, ScoreRequest(args.index, sources, args.entry), console)
    except (ConfigError, LedgerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except HistoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if changed:
        console.print(f"Updated {len(changed)} files: " + ", ".join(str(path) for path in changed))
    else:
        console.print("Nothing changed: the published ledger is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
