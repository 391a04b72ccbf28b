"""Run the paper exchange as a server: `python3 scripts/paper_exchange.py`."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

from niftybaskets.config import ConfigError, Settings
from niftybaskets.market import NseCalendar
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.paper.account_file import AccountFileError, load_account_file
from niftybaskets.paper.app import create_app
from niftybaskets.paper.errors import KiteError
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.live_prices import PriceRefresher, market_price_source
from niftybaskets.paper.storage import Storage
from niftybaskets.webserver import PortInUseError, bind, serve_forever

REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE_ACCOUNT = REPOSITORY / "examples" / "paper_account.yaml"

log = logging.getLogger("niftybaskets.paper")


def run_exchange(
    settings: Settings,
    account: Path,
    host: str,
    port: int,
    db: Path | None,
    reset: bool,
    live_prices: bool,
    refresh_seconds: float,
) -> int:
    """Serve until Ctrl-C. Returns the exit code: 2 for bad input, 0 after a clean stop."""
    try:
        setup = load_account_file(account)
    except AccountFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    live_prices = live_prices or setup.live_prices
    db = db or settings.data_dir / "paper" / "exchange.sqlite"
    try:
        market = MarketData.from_settings(settings, lambda message: log.warning("%s", message))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    source = market_price_source(market) if live_prices else None
    try:
        sock = bind(host, port)
    except PortInUseError as error:
        print(f"error: {error} (--port picks another)", file=sys.stderr)
        return 2
    try:
        storage = Storage(db)
        calendar = NseCalendar([*setup.holidays, *settings.nse_extra_holidays])
        exchange = PaperExchange(setup, storage, calendar=calendar, price_source=source, reset=reset)
    except (ValueError, RuntimeError, sqlite3.Error, KiteError) as error:
        sock.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    url = f"http://{host}:{sock.getsockname()[1]}"
    for user_id in storage.user_ids():
        state = "resumed from the database" if user_id in exchange.resumed else "seeded from the account file"
        print(f"paper account {user_id}: {state}")
    if exchange.resumed:
        print(f"(cash and holdings of resumed accounts come from {db}; --reset seeds them again from {account})")
    print(f"paper exchange listening on {url}  (database {db})")
    print(f"point the project at it:  export KITE_API_ROOT={url}")
    print("stop it with Ctrl-C")
    refresher = None
    if source is not None:
        refresher = PriceRefresher(exchange, source, refresh_seconds)
        refresher.refresh()
        refresher.start()
    try:
        serve_forever(create_app(exchange), sock, log_level="warning")
    finally:
        if refresher is not None:
            refresher.stop()
        storage.close()
    return 0
