#!/usr/bin/env python3
"""Trade a Zerodha account to a basket's weights: the fewest whole-share orders, sells first,
repeated until the total deficit is under the target. A dry run (the default) sends nothing."""

import argparse
import math
import sys
from pathlib import Path

from rich.console import Console

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.paper.serve import SAMPLE_ACCOUNT
from niftybaskets.rebalance.command import Command, Request
from niftybaskets.rebalance.execute import RunOptions
from niftybaskets.store import StoreError


def rupees(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rupees, 0 or more")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Set-up, the daily login and what each step does: README_REBALANCING.md.",
    )
    parser.add_argument("basket", type=Path, help="basket JSON, e.g. docs/baskets/NIFTY 50__...json")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="mode", action="store_const", const="dry-run", help="plan only (default)")
    mode.add_argument("--live", dest="mode", action="store_const", const="live", help="send real orders to Zerodha")
    mode.add_argument(
        "--paper", dest="mode", action="store_const", const="paper", help="trade on the paper exchange, in this process"
    )
    parser.set_defaults(mode="dry-run")
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
    args = parser.parse_args()
    if not 1 <= args.max_passes <= 10:
        parser.error("--max-passes must be from 1 to 10")
    if not 0 < args.fill_timeout <= 3600:
        parser.error("--fill-timeout must be above 0 and at most 3600 seconds")
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = RunOptions(
        live=args.mode in ("live", "paper"),
        wait=not args.no_wait,
        target_deficit=args.target_deficit,
        min_order_value=args.min_order_value,
        max_passes=args.max_passes,
        fill_timeout=args.fill_timeout,
    )
    request = Request(
        basket=args.basket,
        mode=args.mode,
        quiet=args.quiet,
        user_id=args.user_id,
        all_users=args.all_users,
        options=options,
        report_json=args.report_json,
        basket_root=args.basket_root,
        paper_account=args.paper_account,
        paper_reset=args.paper_reset,
    )
    if args.paper_reset and args.mode != "paper":
        parser.error("--paper-reset goes with --paper")
    try:
        return Command(settings, Console(), Console(stderr=True)).run(request)
    except StoreError as error:  # a bad DATA_DIR or a damaged file under it (the paper exchange's, the audit's)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled; orders already sent stay with Kite: check the order book.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
