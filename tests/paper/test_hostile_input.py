"""What Kite refuses, the paper exchange refuses too: other scripts' digits, non-ASCII tags and
symbols, and JSON nested deep enough to crash a recursive parser (issue 12, item 10).

Over raw HTTP and through the SDK; every refusal is Kite's error envelope, never a 500 or a
traceback in the server's log.
"""

import logging

import pytest
import requests
from kiteconnect import exceptions as kite_errors

from tests.conftest import buy
from tests.paper.test_envelopes import assert_error, call

ORDER = {
    "exchange": "NSE",
    "tradingsymbol": "SBIN",
    "transaction_type": "BUY",
    "product": "CNC",
    "order_type": "MARKET",
    "market_protection": "-1",
    "quantity": "1",
}

DEEP = 100_000


@pytest.fixture
def no_server_errors(caplog, capfd):
    """After the test: nothing logged at ERROR and no traceback written by the server."""
    caplog.set_level(logging.WARNING)
    yield
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "٣"),  # Arabic-Indic three: int() reads it as 3
        ("quantity", "３"),  # fullwidth three
        ("quantity", "१०"),  # Devanagari ten
        ("quantity", "1_0"),  # int() reads it as 10
        ("market_protection", "-١"),
        ("price", "٨٠٠"),
    ],
)
def test_numbers_in_other_scripts_are_refused_over_http(paper, no_server_errors, field, value):
    form = {**ORDER, field: value}
    if field == "price":
        form["order_type"] = "LIMIT"
    response = call(paper, "POST", "/orders/regular", data=form)
    assert_error(response, 400, "InputException", f"`{field}`")
    assert "ASCII" in response.json()["message"]
    assert paper.kite.orders() == []


def test_an_arabic_indic_quantity_through_the_sdk_places_nothing(paper, no_server_errors):
    with pytest.raises(kite_errors.InputException, match="quantity") as raised:
        buy(paper.kite, "SBIN", "٣")
    assert raised.value.code == 400
    assert paper.kite.orders() == []
    assert paper.kite.positions()["net"] == []


@pytest.mark.parametrize("tag", ["ordreé", "ταγ1", "run４２", "run-42", "run_42", "ı1"])
def test_tags_are_ascii_letters_and_digits_only(paper, no_server_errors, tag):
    with pytest.raises(kite_errors.InputException, match="tag") as raised:
        buy(paper.kite, "SBIN", 1, tag=tag)
    assert raised.value.code == 400
    assert paper.kite.orders() == []


def test_an_ascii_tag_of_twenty_characters_is_still_taken(paper):
    order_id = buy(paper.kite, "SBIN", 1, tag="A" * 10 + "9" * 10)
    assert paper.kite.order_history(order_id)[-1]["tag"] == "A" * 10 + "9" * 10


@pytest.mark.parametrize("symbol", ["ſbin", "ѕbin", "SBIN\x1b[2J", "../SBIN", "S" * 41])
def test_symbols_outside_ascii_never_become_a_real_one(paper, no_server_errors, symbol):
    # "ſbin".upper() is "SBIN": without the check it would trade SBIN.
    response = call(paper, "POST", "/orders/regular", data={**ORDER, "tradingsymbol": symbol})
    assert_error(response, 400, "InputException", "tradingsymbol")
    assert "\x1b" not in response.text
    assert paper.kite.orders() == []


@pytest.mark.parametrize("path", ["/admin/prices", "/admin/faults", "/admin/accounts/ZP0001/authorise"])
@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"SBIN": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    ],
    ids=["arrays", "objects", "inside-a-price"],
)
def test_deeply_nested_admin_bodies_are_input_errors(paper, no_server_errors, path, body):
    response = requests.post(f"{paper.url}{path}", data=body, timeout=10)
    assert_error(response, 400, "InputException", "nests too deep")
    assert requests.get(f"{paper.url}/admin/faults", timeout=5).json() == {"status": "success", "data": []}
    assert paper.kite.ltp("NSE:SBIN")["NSE:SBIN"]["last_price"] == 800


def test_brackets_inside_strings_do_not_count_as_nesting(paper, no_server_errors):
    fault = {"endpoint": "GET /orders" + "[" * 100, "times": 1}
    response = requests.post(f"{paper.url}/admin/faults", json=fault, timeout=5)
    assert response.json()["status"] == "success"
    assert requests.delete(f"{paper.url}/admin/faults", timeout=5).json()["data"] is True


def test_ordinary_admin_bodies_still_work(paper, no_server_errors):
    response = requests.post(
        f"{paper.url}/admin/prices",
        json={"SBIN": {"last_price": 810, "lower_circuit": 700, "upper_circuit": 900}},
        timeout=5,
    )
    assert response.json() == {"status": "success", "data": True}
    assert paper.kite.ltp("NSE:SBIN")["NSE:SBIN"]["last_price"] == 810


@pytest.mark.parametrize("symbol", ["ſbin", "ѕbin"])
def test_admin_prices_refuse_non_ascii_symbols(paper, no_server_errors, symbol):
    response = requests.post(f"{paper.url}/admin/prices", json={symbol: 5}, timeout=5)
    assert_error(response, 400, "InputException", "ASCII")
    assert paper.kite.ltp("NSE:SBIN")["NSE:SBIN"]["last_price"] == 800


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{}", b'{"SBIN": 5', b"1" * 2_000_000],
    ids=["not-utf8", "truncated", "too-large"],
)
def test_unreadable_admin_bodies_are_input_errors(paper, no_server_errors, body):
    assert_error(requests.post(f"{paper.url}/admin/prices", data=body, timeout=10), 400, "InputException")
