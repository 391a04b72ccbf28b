"""Start the paper exchange: a Kite Connect compatible broker with paper accounts, on this machine."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import load_settings
from niftybaskets.errors import DONE
from niftybaskets.paper.serve import SAMPLE_ACCOUNT, PaperServer
from niftybaskets.webserver import PortInUseError

ENVIRONMENT = ["DATA_DIR", "NSE_EXTRA_HOLIDAYS", "MARKET_DATA_SOURCES", "NSE_BASE_URL", "YAHOO_BASE_URL"]
EXAMPLES = [
    "python3 scripts/paper_exchange.py",
    "python3 scripts/paper_exchange.py --port 0 --paper-account my_account.yaml --reset",
]
NOTE = "Point the kiteconnect SDK or the project at it with KITE_API_ROOT=http://HOST:PORT."
MIN_REFRESH_SECONDS = 10  # NSE blocks clients that poll faster


def port_or_any(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: a whole number from 0 (any free one) to 65535")
    return int(text)


def refresh_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not MIN_REFRESH_SECONDS <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be at least {MIN_REFRESH_SECONDS} seconds (NSE blocks clients that poll faster)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=ENVIRONMENT, examples=EXAMPLES, note=NOTE)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=port_or_any, default=8765, help="port to listen on, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--paper-account",
        "--account",
        dest="paper_account",
        type=Path,
        metavar="FILE",
        default=SAMPLE_ACCOUNT,
        help="account file (YAML) that seeds accounts, prices and rules (default: examples/paper_account.yaml)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="SQLite file holding the paper accounts (default: DATA_DIR/paper/exchange.sqlite)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="forget saved accounts and orders; seed again from the account file"
    )
    parser.add_argument(
        "--live-prices", action="store_true", help="refresh prices from NSE's quote API (needs internet)"
    )
    parser.add_argument(
        "--refresh-seconds",
        type=refresh_seconds,
        default=300.0,
        help="seconds between live price refreshes (default: %(default)g)",
    )
    return parser


def paper_exchange(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        server = PaperServer(
            settings,
            args.paper_account,
            args.host,
            args.port,
            args.db,
            args.reset,
            args.live_prices,
            args.refresh_seconds,
        )
    except PortInUseError as error:
        raise PortInUseError(f"{error} (--port picks another)") from None
    try:
        for account in server.accounts:
            state = "resumed from the database" if account.resumed else "seeded from the account file"
            print(f"paper account {account.user_id}: {state}")
        if any(account.resumed for account in server.accounts):
            print(
                f"(cash and holdings of resumed accounts come from {server.db}; "
                f"--reset seeds them again from {args.paper_account})"
            )
        print(f"paper exchange listening on {server.url}  (database {server.db})")
        print(f"point the project at it:  export KITE_API_ROOT={server.url}")
        print("stop it with Ctrl-C", flush=True)
        server.serve()
    finally:
        server.close()
    return DONE


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv, paper_exchange, cancelled="paper exchange stopped.", log_level=logging.INFO)
