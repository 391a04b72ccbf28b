"""Kite's rules, driven in-process on the PaperExchange object with a clock the tests move.

Each test asserts what a Kite user would notice: an order's status and message, the error a
request gets, what holdings and margins show.
"""

import hashlib
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from niftybaskets.market import IST
from niftybaskets.paper.account_file import parse_account_file
from niftybaskets.paper.errors import KiteError
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.storage import Storage
from tests.conftest import BASE_ACCOUNT, MONDAY_10AM
from tests.fakes.clock import FakeClock, SteppingMonotonic

USER = BASE_ACCOUNT["user_id"]
LOOPBACK = "127.0.0.1"
# 24 Nov 2026 is an NSE holiday: the session after Monday the 23rd is Wednesday the 25th.
MONDAY_EVENING = datetime(2026, 11, 23, 18, 0, tzinfo=IST)
WEDNESDAY_OPEN = datetime(2026, 11, 25, 9, 15, tzinfo=IST)
WEDNESDAY_10AM = datetime(2026, 11, 25, 10, 0, tzinfo=IST)
THURSDAY_10AM = datetime(2026, 11, 26, 10, 0, tzinfo=IST)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10AM)


@pytest.fixture
def make_exchange(tmp_path, clock):
    storages = []

    def make(**overrides) -> PaperExchange:
        storage = Storage(tmp_path / f"paper{len(storages)}.sqlite")
        storages.append(storage)
        setup = parse_account_file(yaml.safe_dump({**BASE_ACCOUNT, **overrides}))
        return PaperExchange(setup, storage, clock=clock, monotonic=SteppingMonotonic())

    yield make
    for storage in storages:
        storage.close()


@pytest.fixture
def exchange(make_exchange) -> PaperExchange:
    return make_exchange()


def place(exchange: PaperExchange, side: str, symbol: str, quantity: int, variety: str = "regular", **fields) -> str:
    form = {
        "exchange": "NSE",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": str(quantity),
        "product": "CNC",
        "order_type": "MARKET",
        "market_protection": "-1",
        **{name: str(value) for name, value in fields.items()},
    }
    return exchange.place_order(USER, variety, form, LOOPBACK)


def limit(exchange: PaperExchange, side: str, symbol: str, quantity: int, price: float, **options) -> str:
    return place(exchange, side, symbol, quantity, order_type="LIMIT", price=price, market_protection="", **options)


def last_state(exchange: PaperExchange, order_id: str) -> dict:
    return exchange.order_history(USER, order_id)[-1]


def book(exchange: PaperExchange) -> dict[str, tuple[int, int]]:
    return {row["tradingsymbol"]: (row["quantity"], row["t1_quantity"]) for row in exchange.holdings(USER)}


def net_funds(exchange: PaperExchange) -> float:
    return exchange.margins(USER, "equity")["net"]


def refusal(call, *args) -> KiteError:
    with pytest.raises(KiteError) as raised:
        call(*args)
    return raised.value


# -- holdings: what may be sold -------------------------------------------------------------


def test_todays_buys_become_t1_then_settled_and_only_settled_shares_need_authorising(make_exchange, clock):
    exchange = make_exchange(holdings={}, t1_holdings={}, rules={"tpin": True})
    place(exchange, "BUY", "SBIN", 10)
    clock.set(WEDNESDAY_10AM)
    assert book(exchange) == {"SBIN": (0, 10)}
    place(exchange, "SELL", "SBIN", 2)  # T1 shares are not in the demat yet: nothing to authorise
    clock.set(THURSDAY_10AM)
    assert book(exchange) == {"SBIN": (8, 0)}
    error = refusal(place, exchange, "SELL", "SBIN", 3)
    assert (error.status, error.error_type) == (428, "HoldingException")
    assert "SBIN needs 3 more shares authorised with CDSL" in error.message
    exchange.authorise_holdings(USER, {"SBIN": 3})
    assert last_state(exchange, place(exchange, "SELL", "SBIN", 3))["status"] == "COMPLETE"
    assert book(exchange) == {"SBIN": (8, 0)}  # sold today: the demat changes at settlement
    assert "needs 1 more" in refusal(place, exchange, "SELL", "SBIN", 1).message


def test_money_from_selling_t1_shares_is_spendable_only_the_next_session(exchange, clock):
    place(exchange, "SELL", "TCS", 2)
    margins = exchange.margins(USER, "equity")
    assert (margins["net"], margins["utilised"]["delivery"]) == (100000, 7000)
    error = refusal(place, exchange, "BUY", "SBIN", 126)  # 100800 > 100000
    assert (error.status, error.error_type) == (400, "MarginException")
    clock.set(WEDNESDAY_10AM)
    assert net_funds(exchange) == 107000


def test_a_sale_may_take_settled_t1_and_todays_shares_less_what_open_sells_hold(exchange):
    place(exchange, "BUY", "SBIN", 5)
    limit(exchange, "SELL", "INFY", 4, 1600)  # waits above the market, holding 4 INFY
    error = refusal(place, exchange, "SELL", "INFY", 7)
    assert (error.status, error.error_type) == (400, "HoldingException")
    assert error.message == (
        "Insufficient holdings: 6 INFY can be sold (settled 10, T1 0, bought today 0, in open sell orders 4), not 7."
    )
    assert "5 SBIN can be sold" in refusal(place, exchange, "SELL", "SBIN", 6).message
    place(exchange, "SELL", "INFY", 6)
    place(exchange, "SELL", "TCS", 2)
    place(exchange, "SELL", "SBIN", 5)
    for symbol in ("INFY", "TCS", "SBIN"):
        assert "0 " + symbol + " can be sold" in refusal(place, exchange, "SELL", symbol, 1).message


# -- funds ----------------------------------------------------------------------------------


def test_a_buy_beyond_the_funds_is_refused_and_waiting_buys_hold_their_money(exchange):
    error = refusal(place, exchange, "BUY", "SBIN", 126)
    assert (error.status, error.error_type) == (400, "MarginException")
    assert error.message == "Insufficient funds. Required margin is 100800.00 but available margin is 100000.00."
    assert exchange.orders(USER) == []
    order_id = limit(exchange, "BUY", "SBIN", 100, 790)  # below the market: waits, holding 79000
    assert last_state(exchange, order_id)["status"] == "OPEN"
    assert net_funds(exchange) == 21000
    assert "available margin is 21000.00" in refusal(place, exchange, "BUY", "SBIN", 27).message
    exchange.cancel_order(USER, "regular", order_id, LOOPBACK)
    assert net_funds(exchange) == 100000


# -- circuit bands --------------------------------------------------------------------------


def test_a_limit_price_outside_the_days_band_is_rejected_by_rms(exchange):
    order_id = limit(exchange, "BUY", "SBIN", 1, 961)  # the band is the previous close 800 +-20%
    last = last_state(exchange, order_id)
    assert last["status"] == "REJECTED"
    assert last["status_message"] == (
        "RMS:Rule: Order price 961.00 is outside the day's circuit limits (640.00 - 960.00) for NSE:SBIN."
    )
    assert net_funds(exchange) == 100000


def test_a_stock_locked_at_its_upper_circuit_finds_no_seller(exchange):
    exchange.set_prices({"SBIN": {"last_price": 880, "lower_circuit": 720, "upper_circuit": 880}})
    order_id = place(exchange, "BUY", "SBIN", 1)
    assert last_state(exchange, order_id)["status"] == "OPEN"
    exchange.set_prices({"SBIN": {"last_price": 870}})
    assert (last_state(exchange, order_id)["status"], last_state(exchange, order_id)["average_price"]) == (
        "COMPLETE",
        870,
    )


# -- market hours: AMOs and DAY orders ------------------------------------------------------


def test_an_amo_placed_while_the_market_is_shut_goes_to_the_market_at_the_next_open(exchange, clock):
    clock.set(MONDAY_EVENING)
    assert "Markets are closed" in refusal(place, exchange, "BUY", "SBIN", 5).message
    order_id = place(exchange, "BUY", "SBIN", 5, variety="amo")
    last = last_state(exchange, order_id)
    assert (last["status"], last["exchange_order_id"]) == ("AMO REQ RECEIVED", None)
    assert net_funds(exchange) == 96000  # its money is held while it waits
    clock.set(WEDNESDAY_OPEN.replace(minute=14))
    assert last_state(exchange, order_id)["status"] == "AMO REQ RECEIVED"
    clock.set(WEDNESDAY_10AM)  # nobody looked at 09:15: it was sent then all the same
    last = last_state(exchange, order_id)
    assert (last["status"], last["filled_quantity"]) == ("COMPLETE", 5)
    assert last["exchange_update_timestamp"] == "2026-11-25 09:15:00"


def test_an_amo_is_refused_while_the_market_is_open(exchange):
    error = refusal(place, exchange, "BUY", "SBIN", 5, "amo")
    assert (error.status, error.error_type) == (400, "InputException")
    assert "AMO orders are taken only outside market hours" in error.message


def test_an_open_day_order_expires_at_the_close_and_frees_its_money(exchange, clock):
    order_id = limit(exchange, "BUY", "SBIN", 10, 700)
    assert net_funds(exchange) == 93000
    clock.set(datetime(2026, 11, 23, 15, 29, tzinfo=IST))
    assert last_state(exchange, order_id)["status"] == "OPEN"
    clock.set(datetime(2026, 11, 23, 16, 45, tzinfo=IST))
    last = last_state(exchange, order_id)
    assert (last["status"], last["cancelled_quantity"]) == ("CANCELLED", 10)
    assert last["status_message"] == "DAY order expired when the session closed."
    assert last["exchange_update_timestamp"] == "2026-11-23 15:30:00"
    assert net_funds(exchange) == 100000


# -- login ----------------------------------------------------------------------------------


def request_token(exchange: PaperExchange) -> str:
    location = exchange.login_redirect(BASE_ACCOUNT["api_key"], None)
    return parse_qs(urlsplit(location).query)["request_token"][0]


def checksum(token: str) -> str:
    return hashlib.sha256((BASE_ACCOUNT["api_key"] + token + BASE_ACCOUNT["api_secret"]).encode()).hexdigest()


def test_a_request_token_gives_one_session_only(exchange):
    token = request_token(exchange)
    session = exchange.create_session(BASE_ACCOUNT["api_key"], token, checksum(token))
    assert session["user_id"] == USER
    assert exchange.authenticate(f"token {BASE_ACCOUNT['api_key']}:{session['access_token']}", "api") == USER
    error = refusal(exchange.create_session, BASE_ACCOUNT["api_key"], token, checksum(token))
    assert (error.status, error.error_type, error.message) == (
        403,
        "TokenException",
        "Token is invalid or has expired.",
    )


def test_a_request_token_exchanged_too_late_is_refused(exchange, clock):
    token = request_token(exchange)
    clock.advance(seconds=301)
    error = refusal(exchange.create_session, BASE_ACCOUNT["api_key"], token, checksum(token))
    assert (error.status, error.error_type) == (403, "TokenException")
