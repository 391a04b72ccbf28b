"""The paper exchange as a server of its own (`python3 scripts/paper_exchange.py`): opened on its
database, bound to its port, then serving until Ctrl-C."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from niftybaskets.config import Settings
from niftybaskets.errors import InputError
from niftybaskets.market import NseCalendar
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.paper.account_file import load_account_file
from niftybaskets.paper.app import create_app
from niftybaskets.paper.errors import KiteError
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.live_prices import PriceRefresher, market_price_source
from niftybaskets.paper.storage import Storage
from niftybaskets.webserver import bind, serve_forever

REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE_ACCOUNT = REPOSITORY / "examples" / "paper_account.yaml"

log = logging.getLogger("niftybaskets.paper")


class ExchangeSetupError(InputError):
    """The database, or what the account file asks of it, cannot be used; the message says what."""


@dataclass(frozen=True)
class PaperAccount:
    user_id: str
    resumed: bool  # its cash and holdings come from the database, not the account file


class PaperServer:
    """A paper exchange ready to serve: `serve()` blocks until Ctrl-C; `close()` releases it in any case."""

    def __init__(
        self,
        settings: Settings,
        account: Path,
        host: str,
        port: int,
        db: Path | None = None,
        reset: bool = False,
        live_prices: bool = False,
        refresh_seconds: float = 300,
    ) -> None:
        """Raises AccountFileError, ConfigError, PortInUseError or ExchangeSetupError (all InputErrors)."""
        setup = load_account_file(account)
        self.db = db or settings.data_dir / "paper" / "exchange.sqlite"
        market = MarketData.from_settings(settings, lambda message: log.warning("%s", message))
        source = market_price_source(market) if live_prices or setup.live_prices else None
        self._sock = bind(host, port)
        self._storage: Storage | None = None
        self._refresher: PriceRefresher | None = None
        try:
            self._storage = Storage(self.db)
            calendar = NseCalendar([*setup.holidays, *settings.nse_extra_holidays])
            self.exchange = PaperExchange(setup, self._storage, calendar=calendar, price_source=source, reset=reset)
        except (ValueError, RuntimeError, sqlite3.Error, KiteError) as error:
            self.close()
            raise ExchangeSetupError(str(error)) from None
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self.accounts = [
            PaperAccount(user_id, user_id in self.exchange.resumed) for user_id in self._storage.user_ids()
        ]
        self._source = source
        self._refresh_seconds = refresh_seconds

    def serve(self) -> None:
        """Serve the Kite API until Ctrl-C, which stops the server cleanly and is raised again."""
        if self._source is not None:
            self._refresher = PriceRefresher(self.exchange, self._source, self._refresh_seconds)
            self._refresher.refresh()
            self._refresher.start()
        serve_forever(create_app(self.exchange), self._sock, log_level="warning")

    def close(self) -> None:
        if self._refresher is not None:
            self._refresher.stop()
        if self._storage is not None:
            self._storage.close()
        self._sock.close()
