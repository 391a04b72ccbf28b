"""Paper accounts live in SQLite: they survive a restart; --reset seeds them again."""

import sqlite3
from contextlib import closing
from datetime import date, datetime

import pytest
import yaml

from niftybaskets.market import IST
from niftybaskets.paper.account_file import parse_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.paper.storage import SCHEMA, Storage
from niftybaskets.sqlite import StoreError
from tests.conftest import BASE_ACCOUNT, buy


def start(tmp_path, clock, monotonic, reset=False, **overrides):
    setup = parse_account_file(yaml.safe_dump({**BASE_ACCOUNT, **overrides}))
    return EmbeddedExchange(setup, tmp_path / "paper.sqlite", clock=clock, monotonic=monotonic, reset=reset)


def test_orders_holdings_and_cash_survive_a_restart(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic) as paper:
        kite = paper.login()
        order_id = buy(kite, "SBIN", 5)
    with start(tmp_path, clock, monotonic, cash=1) as paper:  # the file's cash is not applied again
        assert paper.exchange.resumed == ["ZP0001"]
        kite = paper.login()
        assert [o["order_id"] for o in kite.orders()] == [order_id]
        assert kite.margins("equity")["net"] == 100000 - 4000
        assert {p["tradingsymbol"]: p["quantity"] for p in kite.positions()["net"]} == {"SBIN": 5}


def test_sessions_survive_a_restart(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic) as paper:
        kite = paper.login()
    with start(tmp_path, clock, monotonic) as paper:
        kite.root = paper.url
        assert kite.profile()["user_id"] == "ZP0001"


def test_reset_seeds_the_accounts_again(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic) as paper:
        buy(paper.login(), "SBIN", 5)
    with start(tmp_path, clock, monotonic, reset=True, cash=5000) as paper:
        kite = paper.login()
        assert paper.exchange.resumed == []
        assert kite.orders() == []
        assert kite.margins("equity")["net"] == 5000


def test_a_saved_accounts_api_key_with_another_secret_is_refused(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic):
        pass
    with pytest.raises(ValueError, match="has the api_key of saved account ZP0001"):
        start(tmp_path, clock, monotonic, user_id="ZP0009", api_secret="other")


def test_a_database_from_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        Storage(path)


def test_a_database_from_before_daily_candles_keeps_its_accounts_and_takes_candles(tmp_path):
    path = tmp_path / "paper.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO accounts VALUES ('ZP0001', 'key', 'secret', 'A', 'a@example.com', '', 100000, '2026-11-23')"
        )
        db.execute("PRAGMA user_version = 1")
        db.commit()
    storage = Storage(path)
    assert storage.user_ids() == ["ZP0001"]
    with storage.transaction():
        storage.replace_history("SBIN", [(date(2026, 11, 20), 790, 810, 780, 800, 1000)])
    assert [tuple(row) for row in storage.history("SBIN", date(2026, 11, 1), date(2026, 11, 30))] == [
        ("SBIN", "2026-11-20", 790, 810, 780, 800, 1000)
    ]
    storage.close()


def test_on_a_later_day_the_files_prices_are_todays_and_the_saved_ones_yesterdays_close(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic):
        pass
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    prices = {**BASE_ACCOUNT["prices"], "SBIN": 900}
    with start(tmp_path, clock, monotonic, prices=prices) as paper:
        quote = paper.login().quote("NSE:SBIN")["NSE:SBIN"]
        assert (quote["last_price"], quote["ohlc"]["close"]) == (900, 800)
