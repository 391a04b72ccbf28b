"""A small published history to score by hand: two baskets of three stocks around a holiday, a 1:2
split, a day a stock did not trade, and a third basket still inside its horizon; NSE's history
served by the fake NSE."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from niftybaskets.baskets import Candidate, Published
from niftybaskets.config import Settings
from niftybaskets.ledger.history import WebHistory
from niftybaskets.market import IST, NseCalendar
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.site.baskets import write_basket
from niftybaskets.site.index_page import update_index
from niftybaskets.webserver import BackgroundServer
from tests.fakes.clock import FakeClock, SteppingMonotonic
from tests.fakes.nse import FakeNse
from tests.fakes.yahoo import FakeYahoo

REPOSITORY = Path(__file__).resolve().parents[2]
INDEX = "NIFTY SMALLCAP 250"
D = date.fromisoformat

# Raw NSE rows (open, close, NSE's previous close). 15 Aug 2025 (Independence Day) and 27 Aug
# (Ganesh Chaturthi) are holidays; ALPHA splits 1:2 (face value Rs 10 to Rs 5), ex 20 Aug, and
# NSE's previous close that day is already halved; BETA did not trade on 29 Aug.
STOCKS = {
    "ALPHA": {
        D("2025-08-14"): (199.0, 200.0, 198.0),
        D("2025-08-18"): (202.0, 204.0, 200.0),
        D("2025-08-19"): (204.0, 206.0, 204.0),
        D("2025-08-20"): (104.0, 105.0, 103.0),
        D("2025-08-21"): (105.0, 107.0, 105.0),
        D("2025-08-22"): (107.0, 108.0, 107.0),
        D("2025-08-25"): (108.0, 110.0, 108.0),
        D("2025-08-26"): (110.0, 111.0, 110.0),
        D("2025-08-28"): (111.0, 112.0, 111.0),
        D("2025-08-29"): (112.0, 113.0, 112.0),
        D("2025-09-01"): (113.0, 115.0, 113.0),
    },
    "BETA": {
        D("2025-08-14"): (100.0, 100.0, 100.0),
        D("2025-08-18"): (101.0, 100.0, 100.0),
        D("2025-08-19"): (100.0, 99.0, 100.0),
        D("2025-08-20"): (99.0, 98.0, 99.0),
        D("2025-08-21"): (98.0, 97.0, 98.0),
        D("2025-08-22"): (97.0, 96.0, 97.0),
        D("2025-08-25"): (96.0, 95.0, 96.0),
        D("2025-08-26"): (95.0, 95.0, 95.0),
        D("2025-08-28"): (95.0, 96.0, 95.0),
        D("2025-09-01"): (96.0, 97.0, 96.0),
    },
    "GAMMA": {
        D("2025-08-14"): (50.0, 50.0, 50.0),
        D("2025-08-18"): (50.5, 51.0, 50.0),
        D("2025-08-19"): (51.0, 52.0, 51.0),
        D("2025-08-20"): (52.0, 52.0, 52.0),
        D("2025-08-21"): (52.0, 53.0, 52.0),
        D("2025-08-22"): (53.0, 53.5, 53.0),
        D("2025-08-25"): (53.5, 54.0, 53.5),
        D("2025-08-26"): (54.0, 54.0, 54.0),
        D("2025-08-28"): (54.0, 55.0, 54.0),
        D("2025-08-29"): (55.0, 56.0, 55.0),
        D("2025-09-01"): (56.0, 57.0, 56.0),
    },
}
INDEX_ROWS = {
    D("2025-08-14"): (17000.0, 17000.0),
    D("2025-08-18"): (17100.0, 17150.0),
    D("2025-08-19"): (17150.0, 17200.0),
    D("2025-08-20"): (17200.0, 17180.0),
    D("2025-08-21"): (17180.0, 17220.0),
    D("2025-08-22"): (17220.0, 17250.0),
    D("2025-08-25"): (17300.0, 17271.0),
    D("2025-08-26"): (17271.0, 17300.0),
    D("2025-08-28"): (17300.0, 17350.0),
    D("2025-08-29"): (17350.0, 17400.0),
    D("2025-09-01"): (17420.0, 17473.0),
}
SPLIT = ("20-Aug-2025", "Face Value Split (Sub-Division) - From Rs 10/- Per Share To Rs 5/- Per Share")
DIVIDEND = ("14-Aug-2025", "Interim Dividend - Rs 2 Per Share")


def candidate(symbol: str, gain: float, last_price: float, targets: list[float]) -> Candidate:
    return Candidate(symbol, "Capital Goods", gain, len(targets), 0.0, targets, last_price, 7, "", [])


@dataclass
class World:
    docs: Path
    data: Path
    nse: FakeNse
    url: str
    clock: FakeClock
    first: Published  # 14 Aug, 20:00 IST: ALPHA 50%, BETA 30%, GAMMA 20%
    second: Published  # Sat 23 Aug, 06:30 IST: ALPHA 60%, GAMMA 40%
    third: Published  # Sat 30 Aug: still open on 2 Sep
    yahoo: FakeYahoo
    yahoo_url: str

    def settings(self, **overrides: object) -> Settings:
        values = {
            "docs_dir": self.docs,
            "data_dir": self.data,
            "nse_base_url": self.url,
            "yahoo_base_url": self.yahoo_url,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    def source(self) -> WebHistory:
        """NSE's history through the project's client, with a rate limiter on a test clock."""
        return WebHistory(NseClient(self.url, limiter=RateLimiter(SteppingMonotonic(), sleep=lambda seconds: None)))

    def trade_on(self, until: date) -> None:
        """Flat prices for ALPHA, GAMMA and the index on the trading days after 1 Sep, up to `until`."""
        calendar = NseCalendar()
        day = date(2025, 9, 1)
        while (day := calendar.next_trading_day(day)) <= until:
            self.nse.stock_history["ALPHA"][day] = (115.0, 115.0, 115.0)
            self.nse.stock_history["GAMMA"][day] = (57.0, 57.0, 57.0)
            self.nse.index_history[INDEX][day] = (17473.0, 17473.0)

    def tree(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.docs)): p.read_bytes() for p in sorted(self.docs.rglob("*")) if p.is_file()}


def publish(docs: Path, created: datetime, pool: list[Candidate], weights: dict[str, float]) -> Published:
    published = write_basket(docs, INDEX, created, pool, weights, "Three strong forecasts.")
    update_index(docs)
    return published


@pytest.fixture
def world(tmp_path: Path) -> World:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(REPOSITORY / "docs" / "index.md", docs / "index.md")
    first = publish(
        docs,
        datetime(2025, 8, 14, 20, 0, tzinfo=IST),
        [
            candidate("GAMMA", 8.0, 50.0, [54.0, 54.0]),
            candidate("ALPHA", 5.0, 200.0, [209.0, 211.0]),
            candidate("BETA", 3.0, 100.0, [103.0, 103.0]),
        ],
        {"ALPHA": 0.5, "BETA": 0.3, "GAMMA": 0.2},
    )
    second = publish(
        docs,
        datetime(2025, 8, 23, 6, 30, tzinfo=IST),
        [
            candidate("GAMMA", 6.0, 53.5, [56.71]),
            candidate("ALPHA", 4.0, 108.0, [112.32]),
            candidate("BETA", 2.0, 96.0, [97.92]),
        ],
        {"ALPHA": 0.6, "GAMMA": 0.4},
    )
    third = publish(
        docs,
        datetime(2025, 8, 30, 6, 30, tzinfo=IST),
        [candidate("GAMMA", 5.0, 56.0, [58.8]), candidate("ALPHA", 4.0, 113.0, [117.52])],
        {"ALPHA": 0.5, "GAMMA": 0.5},
    )
    nse = FakeNse()
    nse.stock_history = {symbol: dict(rows) for symbol, rows in STOCKS.items()}
    nse.index_history = {INDEX: dict(INDEX_ROWS)}
    nse.actions = {"ALPHA": [DIVIDEND, SPLIT]}
    yahoo = FakeYahoo()  # knows nothing unless a test gives it prices
    with BackgroundServer(nse.app) as server, BackgroundServer(yahoo.app) as yahoo_server:
        yield World(
            docs,
            tmp_path / "data",
            nse,
            server.url,
            FakeClock(datetime(2025, 9, 2, 10, 0, tzinfo=IST)),
            first,
            second,
            third,
            yahoo,
            yahoo_server.url,
        )
