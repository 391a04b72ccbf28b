"""Kite's April-2026 limits: 10 orders/s (then 429), 1 quote/s, 10 other calls/s, whitelisted IPs."""

import pytest
from kiteconnect import exceptions as kite_errors

from tests.conftest import buy


@pytest.fixture
def frozen(paper):
    paper.monotonic.step = 0.0  # every request lands in the same instant
    return paper


def test_the_eleventh_order_request_in_a_second_gets_429(frozen):
    for _ in range(10):
        buy(frozen.kite, "IDEA", 1)
    with pytest.raises(kite_errors.NetworkException, match="Too many requests") as raised:
        buy(frozen.kite, "IDEA", 1)
    assert raised.value.code == 429
    frozen.monotonic.advance(1.0)
    buy(frozen.kite, "IDEA", 1)
    frozen.monotonic.advance(1.0)
    assert len(frozen.kite.orders()) == 11  # the refused request placed nothing


def test_cancellations_count_as_order_requests(frozen):
    order_ids = [buy(frozen.kite, "IDEA", 1, order_type="LIMIT", price=9, market_protection=None) for _ in range(9)]
    frozen.kite.cancel_order("regular", order_ids[0])
    with pytest.raises(kite_errors.NetworkException):
        frozen.kite.cancel_order("regular", order_ids[1])


def test_a_per_minute_order_limit_applies_too(make_paper):
    paper = make_paper(rules={"order_rate_limit_per_minute": 3})
    for _ in range(3):
        buy(paper.kite, "IDEA", 1)
    with pytest.raises(kite_errors.NetworkException):
        buy(paper.kite, "IDEA", 1)
    paper.monotonic.advance(60)
    buy(paper.kite, "IDEA", 1)


def test_quotes_are_limited_to_one_request_a_second(frozen):
    frozen.kite.ltp("NSE:INFY", "NSE:TCS")
    with pytest.raises(kite_errors.NetworkException) as raised:
        frozen.kite.ltp("NSE:INFY")
    assert raised.value.code == 429
    frozen.monotonic.advance(1.0)
    assert frozen.kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"] == 1500


def test_other_endpoints_allow_ten_a_second_separately_from_orders(frozen):
    for _ in range(10):
        frozen.kite.profile()
    with pytest.raises(kite_errors.NetworkException):
        frozen.kite.holdings()
    buy(frozen.kite, "IDEA", 1)  # the order budget is separate


def test_limits_can_be_switched_off(make_paper):
    paper = make_paper(rules={"order_rate_limit": 0, "quote_rate_limit": 0, "api_rate_limit": 0})
    paper.monotonic.step = 0.0
    for _ in range(15):
        buy(paper.kite, "IDEA", 1)
        paper.kite.ltp("NSE:IDEA")
    assert len(paper.kite.orders()) == 15


def test_orders_from_an_address_off_the_whitelist_are_refused_but_reads_work(make_paper):
    paper = make_paper(rules={"whitelisted_ips": ["203.0.113.7"]})
    with pytest.raises(kite_errors.PermissionException, match=r"came from 127\.0\.0\.1") as raised:
        buy(paper.kite, "SBIN", 1)
    assert raised.value.code == 403
    with pytest.raises(kite_errors.PermissionException):
        paper.kite.cancel_order("regular", "1")
    assert paper.kite.orders() == []
    assert paper.kite.holdings()[0]["tradingsymbol"] == "INFY"


def test_the_whitelist_takes_networks_and_can_be_switched_off(make_paper):
    buy(make_paper(db_name="a.sqlite", rules={"whitelisted_ips": ["127.0.0.0/8"]}).kite, "SBIN", 1)
    buy(make_paper(db_name="b.sqlite", rules={"ip_whitelist": False, "whitelisted_ips": []}).kite, "SBIN", 1)
