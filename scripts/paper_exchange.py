#!/usr/bin/env python3
"""Start the paper exchange: a Kite Connect compatible broker with paper accounts, on this machine."""

import argparse
import logging
import sys
from pathlib import Path

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.paper.serve import SAMPLE_ACCOUNT, run_exchange


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Point the kiteconnect SDK or the project at it with KITE_API_ROOT=http://HOST:PORT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--account",
        type=Path,
        default=SAMPLE_ACCOUNT,
        help="account file (YAML) that seeds accounts, prices and rules (default: examples/paper_account.yaml)",
    )
    parser.add_argument(
        "--db", type=Path, help="SQLite file holding the paper accounts (default: DATA_DIR/paper/exchange.sqlite)"
    )
    parser.add_argument(
        "--reset", action="store_true", help="forget saved accounts and orders; seed again from the account file"
    )
    parser.add_argument(
        "--live-prices", action="store_true", help="refresh prices from NSE's quote API (needs internet)"
    )
    parser.add_argument(
        "--refresh-seconds", type=float, default=300, help="seconds between live price refreshes (default: %(default)s)"
    )
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.refresh_seconds < 10:
        parser.error("--refresh-seconds must be at least 10 (NSE blocks clients that poll faster)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return run_exchange(
            settings, args.account, args.host, args.port, args.db, args.reset, args.live_prices, args.refresh_seconds
        )
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
