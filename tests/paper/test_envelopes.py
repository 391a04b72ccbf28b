"""Raw HTTP: every answer, even to nonsense, is Kite's JSON envelope with the right status."""

import pytest
import requests


def call(paper, method, path, **kwargs):
    headers = {"X-Kite-Version": "3", "Authorization": f"token paperkey:{paper.kite.access_token}"}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, f"{paper.url}{path}", headers=headers, timeout=5, **kwargs)


def assert_error(response, status, error_type, message_part=""):
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error" and body["error_type"] == error_type
    assert message_part in body["message"]
    assert "Traceback" not in response.text


def test_success_envelope(paper):
    body = call(paper, "GET", "/user/profile").json()
    assert body["status"] == "success" and body["data"]["user_id"] == "ZP0001"


def test_unknown_routes_and_methods(paper):
    assert_error(call(paper, "GET", "/no/such/route"), 404, "GeneralException", "Route not found")
    assert_error(call(paper, "PUT", "/portfolio/holdings"), 405, "GeneralException", "Method not allowed")


def test_order_bodies_must_be_forms(paper):
    assert_error(
        call(paper, "POST", "/orders/regular", json={"tradingsymbol": "SBIN"}), 400, "InputException", "form fields"
    )
    assert_error(
        call(
            paper,
            "POST",
            "/orders/regular",
            data=b"--broken\r\nnonsense",
            headers={"Content-Type": "multipart/form-data; boundary=broken"},
        ),
        400,
        "InputException",
    )
    assert_error(call(paper, "POST", "/orders/regular"), 400, "InputException", "Missing `exchange`")


def test_unknown_order_ids_and_segments(paper):
    assert_error(call(paper, "GET", "/orders/424242"), 400, "InputException", "order_id")
    assert_error(call(paper, "GET", "/orders/424242/trades"), 400, "InputException", "order_id")
    assert_error(call(paper, "GET", "/user/margins/crypto"), 400, "InputException", "segment")


def test_quote_needs_nse_instruments(paper):
    assert_error(call(paper, "GET", "/quote/ltp"), 400, "InputException", "No instruments")
    paper.monotonic.advance(1)
    assert_error(call(paper, "GET", "/quote/ltp", params={"i": "BSE:INFY"}), 400, "InputException", "NSE:SYMBOL")
    paper.monotonic.advance(1)
    too_many = [f"NSE:S{n}" for n in range(501)]
    assert_error(call(paper, "GET", "/quote", params={"i": too_many}), 400, "InputException", "at most 500")


def test_logout_needs_its_parameters(paper):
    assert_error(call(paper, "DELETE", "/session/token"), 400, "InputException", "Missing `api_key`")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "SYMBOL"),
        (b'{"SBIN": -1}', "from 0.01"),
        (b'{"SBIN": true}', "from 0.01"),
        (b'{"SBIN": 1e309}', "from 0.01"),
        (b'{"SBIN": {"last_price": 10, "close_price": 1e-320}}', "from 0.01"),
        (b'{"NSE:": 5}', "needs a symbol"),
        (b'{"SBIN": {"close_price": 10}}', "last_price is required"),
        (b'{"SBIN": {"last_price": 10, "lower_circuit": 5}}', "together"),
        (b'{"SBIN": {"last_price": 10, "lower_circuit": 12, "upper_circuit": 11}}', "below"),
        (b'{"SBIN": {"last_price": 10, "volume": 5}}', "unknown price fields"),
    ],
)
def test_bad_admin_price_updates_change_nothing(paper, body, message):
    response = requests.post(f"{paper.url}/admin/prices", data=body, timeout=5)
    assert_error(response, 400, "InputException", message)
    assert paper.kite.ltp("NSE:SBIN")["NSE:SBIN"]["last_price"] == 800


@pytest.mark.parametrize(
    ("user_id", "body", "status", "error_type", "message"),
    [
        ("ZP0001", {"INFY": 1.5}, 400, "InputException", "whole"),
        ("ZP0001", {"SBIN": 1}, 400, "InputException", "holds no settled SBIN"),
        ("ZP0001", {"INFY": 11}, 400, "InputException", "cannot authorise 11"),
        ("ZP0001", {"INFY": 2**70}, 400, "InputException", "cannot authorise"),
        ("NOBODY", {"INFY": 1}, 404, "GeneralException", "No paper account"),
    ],
)
def test_bad_authorisations_are_refused(paper, user_id, body, status, error_type, message):
    response = requests.post(f"{paper.url}/admin/accounts/{user_id}/authorise", json=body, timeout=5)
    assert_error(response, status, error_type, message)


def test_absurd_numbers_are_input_errors_not_server_errors(paper):
    order = {"exchange": "NSE", "tradingsymbol": "SBIN", "transaction_type": "BUY", "product": "CNC"}
    limit = {**order, "order_type": "LIMIT", "quantity": 1, "price": "1e307"}
    assert_error(call(paper, "POST", "/orders/regular", data=limit), 400, "InputException", "price")
    huge = {**order, "order_type": "MARKET", "market_protection": -1, "quantity": str(2**63)}
    assert_error(call(paper, "POST", "/orders/regular", data=huge), 400, "InputException", "quantity")
    checksum = {"api_key": "paperkey", "request_token": "abc", "checksum": "é"}
    assert_error(requests.post(f"{paper.url}/session/token", data=checksum, timeout=5), 403, "TokenException")
