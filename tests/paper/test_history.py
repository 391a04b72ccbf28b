"""Kite's instrument list and daily historical candles, read through the real kiteconnect SDK."""

import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from niftybaskets.market import IST
from niftybaskets.paper.account_file import AccountFileError, parse_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.paper.errors import KiteError
from niftybaskets.paper.payloads import instrument_token
from tests.conftest import BASE_ACCOUNT

# Friday 13 and Monday 16 November 2026, around a weekend; the exchange's clock is 23 November.
HISTORY = {
    "INFY": [
        ["2026-11-12", 1480.0, 1492.5, 1471.1, 1490.0, 51234],
        ["2026-11-13", 1490.0, 1501.0, 1485.0, 1497.3, 48000],
        ["2026-11-16", 1497.3, 1510.0, 1490.2, 1505.8, 62010],
        ["2026-11-17", 1505.8, 1506.0, 1488.0, 1493.4, 39950],
    ],
    "RELIANCE": [["2026-11-13", 1300.0, 1320.0, 1295.0, 1310.0, 1000]],
    "nifty smlcap 250": [
        ["2026-11-13", 17210.4, 17302.9, 17150.0, 17288.15, 0],
        ["2026-11-16", 17288.15, 17390.0, 17201.3, 17366.6, 0],
    ],
}
REPOSITORY = Path(__file__).resolve().parents[2]
HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
    "instrument_type,segment,exchange"
)


def start(tmp_path, clock, monotonic, db_name="paper.sqlite", **overrides) -> EmbeddedExchange:
    setup = parse_account_file(yaml.safe_dump({**BASE_ACCOUNT, "history": HISTORY, **overrides}))
    return EmbeddedExchange(setup, tmp_path / db_name, clock=clock, monotonic=monotonic)


@pytest.fixture
def history_paper(make_paper):
    return make_paper(history=HISTORY)


def tokens(kite: KiteConnect) -> dict[str, int]:
    return {row["tradingsymbol"]: row["instrument_token"] for row in kite.instruments()}


def days(kite: KiteConnect, symbol: str, start_at: object, end_at: object, **options) -> list:
    candles = kite.historical_data(tokens(kite)[symbol], start_at, end_at, "day", **options)
    return [(candle["date"].date().isoformat(), candle["close"]) for candle in candles]


# -- the instrument list -------------------------------------------------------------------------


def test_the_instrument_list_has_every_stock_and_index_in_kites_csv(history_paper):
    rows = {row["tradingsymbol"]: row for row in history_paper.kite.instruments()}
    assert set(rows) == {"INFY", "TCS", "SBIN", "IDEA", "RELIANCE", "NIFTY SMLCAP 250"}
    stock, index = rows["RELIANCE"], rows["NIFTY SMLCAP 250"]
    assert (stock["segment"], stock["exchange"], stock["instrument_type"]) == ("NSE", "NSE", "EQ")
    assert (stock["lot_size"], stock["tick_size"], stock["expiry"], stock["strike"]) == (1, 0.05, "", 0.0)
    assert (index["segment"], index["exchange"], index["instrument_type"]) == ("INDICES", "NSE", "EQ")
    assert (index["lot_size"], index["tick_size"]) == (0, 0.0)
    assert len({row["instrument_token"] for row in rows.values()}) == len(rows)
    # Kite's token layout: the exchange token, then the segment in the lowest byte.
    assert all(row["instrument_token"] // 256 == int(row["exchange_token"]) for row in rows.values())
    assert history_paper.kite.instruments("NSE") == list(rows.values())
    assert history_paper.kite.instruments("BSE") == []


def test_the_csv_has_kites_header_and_needs_no_session(history_paper):
    response = requests.get(f"{history_paper.url}/instruments", timeout=5)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == HEADER
    anonymous = KiteConnect("paperkey", root=history_paper.url)
    assert len(anonymous.instruments("NSE")) == 6


def test_holdings_quotes_and_the_instrument_list_agree_on_tokens(history_paper):
    listed = tokens(history_paper.kite)
    [holding] = [h for h in history_paper.kite.holdings() if h["tradingsymbol"] == "INFY"]
    assert holding["instrument_token"] == listed["INFY"]
    assert history_paper.kite.ltp("NSE:SBIN")["NSE:SBIN"]["instrument_token"] == listed["SBIN"]


def test_tokens_and_history_survive_a_restart(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic) as paper:
        before = tokens(paper.login())
    with start(tmp_path, clock, monotonic, history={}) as paper:  # the saved history is kept
        kite = paper.login()
        assert tokens(kite) == before
        assert days(kite, "NIFTY SMLCAP 250", date(2026, 11, 13), date(2026, 11, 16))[-1] == ("2026-11-16", 17366.6)
    with start(tmp_path, clock, monotonic, db_name="fresh.sqlite") as paper:  # derived, not stored
        assert tokens(paper.login()) == before


def test_the_files_history_of_a_symbol_replaces_the_saved_one(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic):
        pass
    corrected = {"INFY": [["2026-11-16", 1497.3, 1510.0, 1490.2, 1500.0, 62010]]}
    with start(tmp_path, clock, monotonic, history=corrected) as paper:
        kite = paper.login()
        assert days(kite, "INFY", date(2026, 11, 1), date(2026, 11, 20)) == [("2026-11-16", 1500.0)]
        assert days(kite, "RELIANCE", date(2026, 11, 1), date(2026, 11, 20)) == [("2026-11-13", 1310.0)]


def test_an_exchange_database_from_before_history_is_upgraded_in_place(tmp_path, clock, monotonic):
    with start(tmp_path, clock, monotonic, cash=5000):
        pass
    with sqlite3.connect(tmp_path / "paper.sqlite") as db:  # as the previous version left it
        db.execute("DROP TABLE history")
        db.execute("PRAGMA user_version = 1")
    with start(tmp_path, clock, monotonic) as paper:
        kite = paper.login()
        assert paper.exchange.resumed == ["ZP0001"] and kite.margins("equity")["net"] == 5000
        assert days(kite, "RELIANCE", date(2026, 11, 13), date(2026, 11, 13)) == [("2026-11-13", 1310.0)]


def test_symbols_whose_tokens_would_collide_stop_the_start(tmp_path, clock, monotonic):
    seen: dict[int, str] = {}
    for number in range(200_000):
        name = f"S{number}"
        if instrument_token(name) in seen:
            pair = sorted((seen[instrument_token(name)], name))
            break
        seen[instrument_token(name)] = name
    with pytest.raises(KiteError, match=rf"{pair[0]} and {pair[1]} would share instrument token"):
        start(tmp_path, clock, monotonic, prices={**BASE_ACCOUNT["prices"], pair[0]: 10, pair[1]: 20})


# -- historical candles --------------------------------------------------------------------------


def test_daily_candles_of_a_stock_across_a_weekend(history_paper):
    kite = history_paper.kite
    candles = kite.historical_data(tokens(kite)["INFY"], datetime(2026, 11, 13), datetime(2026, 11, 16), "day")
    assert candles == [
        {
            "date": datetime(2026, 11, 13, tzinfo=IST),
            "open": 1490.0,
            "high": 1501.0,
            "low": 1485.0,
            "close": 1497.3,
            "volume": 48000,
        },
        {
            "date": datetime(2026, 11, 16, tzinfo=IST),
            "open": 1497.3,
            "high": 1510.0,
            "low": 1490.2,
            "close": 1505.8,
            "volume": 62010,
        },
    ]
    assert candles[0]["date"].utcoffset() == timedelta(hours=5, minutes=30)


def test_daily_candles_of_an_index_with_open_interest(history_paper):
    kite = history_paper.kite
    candles = kite.historical_data(
        tokens(kite)["NIFTY SMLCAP 250"], "2026-11-01 00:00:00", "2026-11-20 00:00:00", "day", oi=True
    )
    assert [(c["date"].day, c["close"], c["volume"], c["oi"]) for c in candles] == [
        (13, 17288.15, 0, 0),
        (16, 17366.6, 0, 0),
    ]


def test_from_and_to_pick_days_whatever_their_time(history_paper):
    kite = history_paper.kite
    assert days(kite, "INFY", "2026-11-13 09:15:00", "2026-11-16 09:00:00") == [
        ("2026-11-13", 1497.3),
        ("2026-11-16", 1505.8),
    ]
    assert days(kite, "INFY", date(2026, 11, 17), date(2026, 11, 20)) == [("2026-11-17", 1493.4)]
    assert days(kite, "INFY", date(2026, 11, 14), date(2026, 11, 15)) == []  # the weekend
    assert days(kite, "SBIN", date(2026, 11, 1), date(2026, 11, 20)) == []  # priced, no history


def test_historical_data_needs_the_permission(make_paper):
    paper = make_paper(history=HISTORY, rules={"historical_data": False})
    with pytest.raises(kite_errors.PermissionException, match=r"^Insufficient permission for that call\.$") as raised:
        days(paper.kite, "INFY", date(2026, 11, 13), date(2026, 11, 16))
    assert raised.value.code == 403
    assert tokens(paper.kite)["INFY"]  # the instrument list stays open to every plan


def test_historical_data_needs_a_session(history_paper):
    anonymous = KiteConnect("paperkey", root=history_paper.url)
    token = tokens(anonymous)["INFY"]
    with pytest.raises(kite_errors.TokenException) as raised:
        anonymous.historical_data(token, date(2026, 11, 13), date(2026, 11, 16), "day")
    assert raised.value.code == 403


@pytest.mark.parametrize(
    ("token", "start_at", "end_at", "interval", "message"),
    [
        ("INFY", "2026-11-13 00:00:00", "2026-11-16 00:00:00", "5minute", r"invalid interval `5minute`"),
        (123, "2026-11-13 00:00:00", "2026-11-16 00:00:00", "day", r"^invalid token$"),
        ("x1", "2026-11-13 00:00:00", "2026-11-16 00:00:00", "day", r"^invalid token$"),
        ("INFY", "2020-01-01 00:00:00", "2026-11-16 00:00:00", "day", r"^interval exceeds max limit: 2000 days$"),
        ("INFY", "2026-11-16 00:00:00", "2026-11-13 00:00:00", "day", r"`from` \(2026-11-16 00:00:00\) is after `to`"),
        ("INFY", "13/11/2026", "2026-11-16 00:00:00", "day", r"invalid `from` date '13/11/2026'"),
    ],
)
def test_bad_historical_requests_are_input_errors(history_paper, token, start_at, end_at, interval, message):
    kite = history_paper.kite
    token = tokens(kite)[token] if token == "INFY" else token
    with pytest.raises(kite_errors.InputException, match=message) as raised:
        kite.historical_data(token, start_at, end_at, interval)
    assert raised.value.code == 400


def test_two_thousand_days_is_the_longest_span(history_paper):
    end = datetime(2026, 11, 16)
    assert days(history_paper.kite, "INFY", end - timedelta(days=2000), end)[-1] == ("2026-11-16", 1505.8)


def test_historical_requests_are_limited_to_three_a_second(history_paper):
    kite = history_paper.kite
    token = tokens(kite)["INFY"]
    history_paper.monotonic.step = 0.0
    for _ in range(3):
        kite.historical_data(token, date(2026, 11, 13), date(2026, 11, 13), "day")
    with pytest.raises(kite_errors.NetworkException, match="Too many requests") as raised:
        kite.historical_data(token, date(2026, 11, 13), date(2026, 11, 13), "day")
    assert raised.value.code == 429
    assert kite.profile()["user_id"] == "ZP0001"  # other endpoints have their own budget
    history_paper.monotonic.advance(1.0)
    assert kite.historical_data(token, date(2026, 11, 13), date(2026, 11, 13), "day")


def test_faults_can_target_the_instrument_list_and_one_instruments_history(history_paper):
    kite = history_paper.kite
    token = tokens(kite)["INFY"]
    for fault in (
        {"endpoint": "GET /instruments/NSE", "status": 502},
        {"endpoint": f"GET /instruments/historical/{token}/day", "status": 503, "times": 2},
    ):
        assert requests.post(f"{history_paper.url}/admin/faults", json=fault, timeout=5).status_code == 200
    with pytest.raises(kite_errors.DataException):
        kite.instruments("NSE")
    assert kite.instruments()  # another path, not armed
    for _ in range(2):
        with pytest.raises(kite_errors.NetworkException) as raised:
            kite.historical_data(token, date(2026, 11, 13), date(2026, 11, 16), "day")
        assert raised.value.code == 503
    assert len(kite.historical_data(token, date(2026, 11, 13), date(2026, 11, 16), "day")) == 2


# -- the account file ----------------------------------------------------------------------------


def test_history_keys_are_normalised_and_both_new_keys_are_optional():
    setup = parse_account_file("history: {'nse:infy': [[2026-11-13, 1, 2, 0.5, 1.5, 10]], nifty 50: []}")
    assert list(setup.history) == ["INFY", "NIFTY 50"]
    assert setup.history["INFY"] == [(date(2026, 11, 13), 1.0, 2.0, 0.5, 1.5, 10)]
    assert parse_account_file("cash: 5").history == {} and parse_account_file("").rules.historical_data


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("[[2026-02-30, 1, 2, 1, 1, 5]]", r"(?s)2026-02-30 is not a date: day is out of range for month.*line 2"),
        ("[['2026-02-30', 1, 2, 1, 1, 5]]", r"history\.INFY\.0\.0: Input should be a valid date"),
        ("[[soon, 1, 2, 1, 1, 5]]", r"history\.INFY\.0\.0: Input should be a valid date"),
        (
            "[[2026-11-16, 1, 2, 1, 1, 5], [2026-11-13, 1, 2, 1, 1, 5]]",
            r"INFY 2026-11-13 comes after 2026-11-16: list the days in increasing order",
        ),
        ("[[2026-11-13, 1, 2, 1, 1, 5], [2026-11-13, 1, 2, 1, 1, 5]]", r"each day once"),
        ("[[2026-11-13, 1, 2, 1, 0, 5]]", r"INFY 2026-11-13: open, high, low and close must be positive numbers"),
        ("[[2026-11-13, 1, .inf, 1, 1, 5]]", r"must be positive numbers"),
        ("[[2026-11-13, 1, 2, 1, .nan, 5]]", r"must be positive numbers"),
        ("[[2026-11-13, 1, 2, 3, 2, 5]]", r"low 3\.0 and high 2\.0 must bound open 1\.0 and close 2\.0"),
        ("[[2026-11-13, 1, 2, 1, 1, -5]]", r"the volume cannot be negative"),
        ("[[2026-11-13, 1, 2, 1, 1, 5.5]]", r"history\.INFY\.0\.5: Input should be a valid integer"),
        ("[[2026-11-13, true, 2, 1, 1, 5]]", r"history\.INFY\.0\.1: Input should be a valid number"),
        ("[[2026-11-13, 1, 2, 1, 1]]", r"history\.INFY\.0\.5: Field required"),
    ],
)
def test_bad_history_is_reported_with_where_it_is(rows, message):
    with pytest.raises(AccountFileError, match=message):
        parse_account_file(f"history:\n  INFY: {rows}\n")


def test_the_permission_switch_takes_true_or_false():
    with pytest.raises(AccountFileError, match="historical_data"):
        parse_account_file("rules: {historical_data: maybe}")


def run_exchange(account, tmp_path) -> subprocess.CompletedProcess:
    script = REPOSITORY / "scripts" / "paper_exchange.py"
    arguments = ["--account", str(account), "--port", "0", "--db", str(tmp_path / "x.sqlite")]
    return subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=60)


def test_a_bad_history_row_exits_2_with_the_problem(tmp_path):
    account = tmp_path / "account.yaml"
    account.write_text("history:\n  INFY:\n    - [2026-11-13, 1, 2, 1, 1, 5]\n    - [2026-11-31, 1, 2, 1, 1, 5]\n")
    result = run_exchange(account, tmp_path)
    assert result.returncode == 2
    assert "error:" in result.stderr and "2026-11-31 is not a date" in result.stderr and "line 4" in result.stderr
    assert "Traceback" not in result.stderr
