"""Orders through the SDK: validation, market protection, funds, holdings, hours, circuits, fills."""

from datetime import datetime

import pytest
import requests
from kiteconnect import exceptions as kite_errors

from niftybaskets.market import IST
from tests.conftest import buy, sell, status


def test_a_market_buy_fills_at_the_last_price_and_shows_in_orders_trades_and_positions(paper):
    order_id = buy(paper.kite, "SBIN", 10, tag="run42")
    last = status(paper.kite, order_id)
    assert last["status"] == "COMPLETE"
    assert last["filled_quantity"] == 10 and last["pending_quantity"] == 0
    assert last["average_price"] == 800
    assert last["tag"] == "run42" and last["market_protection"] == -1
    history = [entry["status"] for entry in paper.kite.order_history(order_id)]
    assert history == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE"]
    [trade] = paper.kite.order_trades(order_id)
    assert (trade["quantity"], trade["average_price"], trade["transaction_type"]) == (10, 800, "BUY")
    assert [t["order_id"] for t in paper.kite.trades()] == [order_id]
    [position] = paper.kite.positions()["net"]
    assert (position["tradingsymbol"], position["product"], position["quantity"]) == ("SBIN", "CNC", 10)
    assert paper.kite.margins("equity")["net"] == 100000 - 8000
    assert [o["order_id"] for o in paper.kite.orders()] == [order_id]


@pytest.mark.parametrize("protection", [None, 0])
def test_market_orders_without_market_protection_are_rejected(paper, protection):
    with pytest.raises(kite_errors.InputException, match="market protection"):
        paper.kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "CNC", "MARKET", market_protection=protection)
    assert paper.kite.orders() == []


@pytest.mark.parametrize("protection", [-2, 101, 1000])
def test_market_protection_out_of_range_is_rejected(paper, protection):
    with pytest.raises(kite_errors.InputException, match="market_protection"):
        buy(paper.kite, "SBIN", 1, market_protection=protection)


def test_market_protection_rule_can_be_switched_off(make_paper):
    paper = make_paper(rules={"market_protection": False})
    order_id = paper.kite.place_order("regular", "NSE", "SBIN", "BUY", 1, "CNC", "MARKET")
    assert status(paper.kite, order_id)["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", 0, "from 1 to"),
        ("quantity", -5, "from 1 to"),
        ("quantity", "1.5", "whole number"),
        ("quantity", "abc", "whole number"),
        ("exchange", "BSE", "NSE equities only"),
        ("product", "MIS", "CNC"),
        ("order_type", "SL", "MARKET and LIMIT"),
        ("transaction_type", "HOLD", "BUY or SELL"),
        ("validity", "IOC", "DAY"),
        ("tag", "far-too-long-tag-for-kite-orders", "tag"),
        ("tag", "has space", "tag"),
    ],
)
def test_bad_order_fields_get_an_input_exception_and_place_nothing(paper, field, value, message):
    params = {
        "exchange": "NSE",
        "tradingsymbol": "SBIN",
        "transaction_type": "BUY",
        "quantity": 1,
        "product": "CNC",
        "order_type": "MARKET",
        "market_protection": -1,
        field: value,
    }
    with pytest.raises(kite_errors.InputException, match=message) as raised:
        paper.kite.place_order("regular", **params)
    assert raised.value.code == 400
    assert paper.kite.orders() == []


def test_missing_fields_are_named(paper):
    response = requests.post(
        f"{paper.url}/orders/regular",
        data={"exchange": "NSE", "quantity": 1},
        headers={"X-Kite-Version": "3", "Authorization": f"token paperkey:{paper.kite.access_token}"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Missing `tradingsymbol`, `transaction_type`, `product`, `order_type`."


def test_an_unsupported_variety_is_an_input_exception(paper):
    with pytest.raises(kite_errors.InputException, match="variety"):
        paper.kite.place_order("co", "NSE", "SBIN", "BUY", 1, "CNC", "MARKET", market_protection=-1)


def test_an_unknown_symbol_is_refused_not_priced_by_guesswork(paper):
    with pytest.raises(kite_errors.InputException, match="No price is known for NSE:NOSUCH"):
        buy(paper.kite, "NOSUCH", 1)
    assert paper.kite.orders() == []


def test_a_buy_beyond_the_funds_is_a_margin_exception(paper):
    with pytest.raises(kite_errors.GeneralException) as raised:  # the SDK has no MarginException class
        buy(paper.kite, "SBIN", 126)  # 100800 > 100000
    assert raised.value.code == 400
    assert "Insufficient funds. Required margin is 100800.00 but available margin is 100000.00" in str(raised.value)
    assert paper.kite.orders() == []
    buy(paper.kite, "SBIN", 125)
    assert paper.kite.margins("equity")["net"] == 0


def test_the_funds_check_can_be_switched_off(make_paper):
    paper = make_paper(rules={"funds_check": False})
    buy(paper.kite, "SBIN", 200)
    assert paper.kite.margins("equity")["net"] == 100000 - 160000


def test_a_sell_beyond_the_holdings_is_a_holding_exception(paper):
    with pytest.raises(kite_errors.GeneralException) as raised:
        sell(paper.kite, "INFY", 11)
    assert raised.value.code == 400
    assert "Insufficient holdings: 10 INFY can be sold" in str(raised.value)
    sell(paper.kite, "INFY", 6)
    with pytest.raises(kite_errors.GeneralException, match="Insufficient holdings: 4 INFY"):
        sell(paper.kite, "INFY", 5)


def test_t1_shares_and_todays_buys_can_be_sold(paper):
    sell(paper.kite, "TCS", 2)
    buy(paper.kite, "SBIN", 3)
    sell(paper.kite, "SBIN", 3)
    positions = {p["tradingsymbol"]: p["quantity"] for p in paper.kite.positions()["net"]}
    assert positions == {"SBIN": 0, "TCS": -2}


def test_with_tpin_mode_unauthorised_sales_of_settled_shares_get_428(make_paper):
    paper = make_paper(rules={"tpin": True})
    with pytest.raises(kite_errors.GeneralException) as raised:
        sell(paper.kite, "INFY", 1)
    assert raised.value.code == 428
    assert "CDSL" in str(raised.value)
    sell(paper.kite, "TCS", 1)  # T1 shares are not in the demat yet: no authorisation needed
    response = requests.post(f"{paper.url}/admin/accounts/ZP0001/authorise", json={"INFY": 4}, timeout=5)
    assert response.json()["data"] is True
    sell(paper.kite, "INFY", 4)
    assert paper.kite.holdings()[0]["authorised_quantity"] == 4
    with pytest.raises(kite_errors.GeneralException) as raised:
        sell(paper.kite, "INFY", 1)
    assert raised.value.code == 428


def test_regular_orders_outside_market_hours_are_refused(make_paper, clock):
    paper = make_paper(rules={"token_expiry": False})
    clock.set(datetime(2026, 11, 23, 15, 31, tzinfo=IST))
    with pytest.raises(kite_errors.InputException, match="Markets are closed"):
        buy(paper.kite, "SBIN", 1)
    clock.set(datetime(2026, 11, 24, 11, 0, tzinfo=IST))  # NSE holiday
    with pytest.raises(kite_errors.InputException, match="Markets are closed"):
        buy(paper.kite, "SBIN", 1)
    clock.set(datetime(2026, 11, 28, 11, 0, tzinfo=IST))  # Saturday
    with pytest.raises(kite_errors.InputException, match="Markets are closed"):
        buy(paper.kite, "SBIN", 1)


def test_an_amo_waits_for_the_next_session_and_fills_at_its_open(make_paper, clock):
    paper = make_paper(rules={"token_expiry": False})
    clock.set(datetime(2026, 11, 23, 18, 0, tzinfo=IST))
    with pytest.raises(kite_errors.InputException, match="AMO"):
        clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=IST))
        paper.kite.place_order("amo", "NSE", "SBIN", "BUY", 5, "CNC", "MARKET", market_protection=-1)
    clock.set(datetime(2026, 11, 23, 18, 0, tzinfo=IST))
    order_id = paper.kite.place_order("amo", "NSE", "SBIN", "BUY", 5, "CNC", "MARKET", market_protection=-1)
    assert status(paper.kite, order_id)["status"] == "AMO REQ RECEIVED"
    assert paper.kite.margins("equity")["net"] == 100000 - 4000  # blocked while it waits
    clock.set(datetime(2026, 11, 25, 9, 14, tzinfo=IST))  # the 24th is a holiday
    assert status(paper.kite, order_id)["status"] == "AMO REQ RECEIVED"
    clock.set(datetime(2026, 11, 25, 9, 15, tzinfo=IST))
    assert status(paper.kite, order_id)["status"] == "COMPLETE"
    assert {p["tradingsymbol"]: p["quantity"] for p in paper.kite.positions()["net"]} == {"SBIN": 5}


def test_an_amo_can_be_cancelled_and_releases_its_funds(paper, clock):
    clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=IST))
    order_id = paper.kite.place_order("amo", "NSE", "SBIN", "BUY", 5, "CNC", "MARKET", market_protection=-1)
    with pytest.raises(kite_errors.InputException, match="amo order"):
        paper.kite.cancel_order("regular", order_id)
    assert paper.kite.cancel_order("amo", order_id) == order_id
    last = status(paper.kite, order_id)
    assert (last["status"], last["cancelled_quantity"]) == ("CANCELLED", 5)
    assert paper.kite.margins("equity")["net"] == 100000


def test_a_limit_order_waits_until_the_price_reaches_it(paper):
    order_id = buy(paper.kite, "SBIN", 2, order_type="LIMIT", price=790, market_protection=None)
    assert status(paper.kite, order_id)["status"] == "OPEN"
    assert paper.kite.margins("equity")["net"] == 100000 - 1580
    requests.post(f"{paper.url}/admin/prices", json={"SBIN": 789.5}, timeout=5)
    last = status(paper.kite, order_id)
    assert (last["status"], last["average_price"]) == ("COMPLETE", 789.5)


def test_a_limit_price_outside_the_circuit_is_rejected_by_rms(paper):
    order_id = buy(paper.kite, "SBIN", 1, order_type="LIMIT", price=961, market_protection=None)  # band is +-20%
    last = status(paper.kite, order_id)
    assert last["status"] == "REJECTED"
    assert "circuit limits (640.00 - 960.00)" in last["status_message"]


def test_a_stock_locked_at_its_upper_circuit_does_not_fill_and_expires_at_the_close(paper, clock):
    requests.post(
        f"{paper.url}/admin/prices",
        json={"SBIN": {"last_price": 880, "lower_circuit": 720, "upper_circuit": 880}},
        timeout=5,
    )
    order_id = buy(paper.kite, "SBIN", 1)
    assert status(paper.kite, order_id)["status"] == "OPEN"
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=IST))
    last = status(paper.kite, order_id)
    assert (last["status"], last["cancelled_quantity"]) == ("CANCELLED", 1)
    assert paper.kite.margins("equity")["net"] == 100000


def test_cancelling_a_complete_order_fails(paper):
    order_id = buy(paper.kite, "SBIN", 1)
    with pytest.raises(kite_errors.InputException, match="COMPLETE"):
        paper.kite.cancel_order("regular", order_id)
    with pytest.raises(kite_errors.InputException, match="order_id"):
        paper.kite.cancel_order("regular", "123")


def test_fills_can_be_spread_over_polls(make_paper):
    paper = make_paper(rules={"fill_polls": 3})
    order_id = buy(paper.kite, "SBIN", 10)
    assert [status(paper.kite, order_id)["filled_quantity"] for _ in range(4)] == [4, 8, 10, 10]
    assert len(paper.kite.order_trades(order_id)) == 3


def test_the_funds_check_counts_slippage(make_paper):
    paper = make_paper(cash=8000, rules={"slippage_percent": 1})
    with pytest.raises(kite_errors.GeneralException, match=r"Required margin is 8080\.00"):
        buy(paper.kite, "SBIN", 10)
    buy(paper.kite, "SBIN", 9)
    assert paper.kite.margins("equity")["net"] == 8000 - 9 * 808


def test_an_amo_the_funds_no_longer_cover_at_the_open_is_rejected(make_paper, clock):
    paper = make_paper(cash=8000, rules={"token_expiry": False})
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=IST))
    order_id = paper.kite.place_order("amo", "NSE", "SBIN", "BUY", 10, "CNC", "MARKET", market_protection=-1)
    requests.post(f"{paper.url}/admin/prices", json={"SBIN": 900}, timeout=5)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    last = status(paper.kite, order_id)
    assert last["status"] == "REJECTED" and "Insufficient funds" in last["status_message"]
    assert last["exchange_update_timestamp"] == "2026-11-25 09:15:00"
    assert paper.kite.margins("equity")["net"] == 8000


def test_an_amo_limit_outside_the_next_days_band_is_rejected_at_the_open(make_paper, clock):
    paper = make_paper(rules={"token_expiry": False})
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=IST))
    order_id = paper.kite.place_order("amo", "NSE", "INFY", "SELL", 1, "CNC", "LIMIT", price=1850)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    last = status(paper.kite, order_id)
    assert last["status"] == "REJECTED"
    assert "outside the day's circuit limits (1200.00 - 1800.00)" in last["status_message"]


def test_slippage_moves_fills_against_the_trader_within_market_protection(make_paper):
    paper = make_paper(rules={"slippage_percent": 1})
    assert status(paper.kite, buy(paper.kite, "SBIN", 1))["average_price"] == 808
    assert status(paper.kite, sell(paper.kite, "INFY", 1))["average_price"] == 1485
    assert status(paper.kite, buy(paper.kite, "SBIN", 1, market_protection=0.5))["average_price"] == 804


def test_quotes_answer_in_kite_shapes_and_unknown_symbols_are_named(paper):
    assert paper.kite.ltp(["NSE:INFY"])["NSE:INFY"]["last_price"] == 1500
    paper.monotonic.advance(1)
    quote = paper.kite.quote("NSE:SBIN")["NSE:SBIN"]
    assert (quote["lower_circuit_limit"], quote["upper_circuit_limit"]) == (640, 960)
    paper.monotonic.advance(1)
    assert paper.kite.ohlc("NSE:SBIN")["NSE:SBIN"]["ohlc"]["close"] == 800
    paper.monotonic.advance(1)
    with pytest.raises(kite_errors.InputException, match="NSE:NOPE"):
        paper.kite.ltp("NSE:INFY", "NSE:NOPE")


def test_plans_without_market_data_get_a_permission_exception(make_paper):
    paper = make_paper(rules={"market_data": False})
    with pytest.raises(kite_errors.PermissionException, match=r"Insufficient permission for that call\."):
        paper.kite.ltp("NSE:INFY")
    assert paper.kite.holdings()[0]["last_price"] == 1500  # holdings still carry prices
