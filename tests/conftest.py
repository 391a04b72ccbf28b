"""Shared fixtures: a paper exchange on an ephemeral loopback port, driven through the real kiteconnect SDK."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from kiteconnect import KiteConnect

from niftybaskets.market import IST
from niftybaskets.paper.account_file import parse_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from tests.fakes.clock import FakeClock, SteppingMonotonic

# No test may reach the real market-data services: a source a test does not point at a fake of its
# own is refused at once (port 9, discard), as an unreachable service is.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_real_market_data(monkeypatch):
    for name in ("NSE_BASE_URL", "NIFTY_INDICES_BASE_URL", "YAHOO_BASE_URL"):
        monkeypatch.setenv(name, UNREACHABLE)
    monkeypatch.delenv("MARKET_DATA_SOURCES", raising=False)


MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=IST)  # a trading day; 24 Nov 2026 is an NSE holiday

BASE_ACCOUNT = {
    "user_id": "ZP0001",
    "api_key": "paperkey",
    "api_secret": "papersecret",
    "cash": 100000,
    "holdings": {"INFY": 10},
    "t1_holdings": {"TCS": 2},
    "average_prices": {"INFY": 1400, "TCS": 3400},
    "prices": {"INFY": 1500, "TCS": 3500, "SBIN": 800, "IDEA": 10},
}


@dataclass
class Paper:
    embedded: EmbeddedExchange
    kite: KiteConnect
    clock: FakeClock
    monotonic: SteppingMonotonic

    @property
    def url(self) -> str:
        return self.embedded.url

    @property
    def exchange(self):
        return self.embedded.exchange


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10AM)


@pytest.fixture
def monotonic() -> SteppingMonotonic:
    # One second passes per reading, so rate limits stay out of the way of tests not about them.
    return SteppingMonotonic(step=1.0)


@pytest.fixture
def make_paper(tmp_path, clock, monotonic):
    started = []

    def make(db_name: str = "paper.sqlite", **overrides) -> Paper:
        account = {**BASE_ACCOUNT, **overrides}
        setup = parse_account_file(yaml.safe_dump(account))
        embedded = EmbeddedExchange(setup, tmp_path / db_name, clock=clock, monotonic=monotonic)
        embedded.__enter__()
        started.append(embedded)
        return Paper(embedded, embedded.login(), clock, monotonic)

    yield make
    for embedded in started:
        embedded.__exit__(None, None, None)


@pytest.fixture
def paper(make_paper) -> Paper:
    return make_paper()


def buy(kite: KiteConnect, symbol: str, quantity: int, **options) -> str:
    params = {"order_type": "MARKET", "market_protection": -1, **options}
    return kite.place_order("regular", "NSE", symbol, "BUY", quantity, "CNC", **params)


def sell(kite: KiteConnect, symbol: str, quantity: int, **options) -> str:
    params = {"order_type": "MARKET", "market_protection": -1, **options}
    return kite.place_order("regular", "NSE", symbol, "SELL", quantity, "CNC", **params)


def status(kite: KiteConnect, order_id: str) -> dict:
    return kite.order_history(order_id)[-1]


def request_token(url: str, api_key: str = "paperkey", **params) -> tuple[str, dict]:
    response = requests.get(
        f"{url}/connect/login", params={"api_key": api_key, "v": 3, **params}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302
    location = response.headers["location"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    return location, query
