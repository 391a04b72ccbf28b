"""The paper exchange answers in the shapes of Zerodha's own published mock responses.

The mocks are zerodha/kiteconnect-mocks' payloads, kept in tests/fixtures/recorded/kite (provenance
there), so these tests run on every clone.
"""

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
import requests

from tests.conftest import buy, request_token

MOCKS = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "kite"


def mock(name: str) -> object:
    return json.loads((MOCKS / f"{name}.json").read_text())["data"]


def kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def merged(items: list[dict]) -> tuple[dict, set[str]]:
    """One template from many examples: every key seen, and the keys present in all of them."""
    template: dict = {}
    for item in items:
        for key, value in item.items():
            if template.get(key) is None:
                template[key] = value
    required = set.intersection(*(set(item) for item in items))
    return template, required


def shape_errors(ours: object, theirs: object, path: str = "data", required: set[str] | None = None) -> list[str]:
    if ours is None or theirs is None:
        return []
    if kind(ours) != kind(theirs):
        return [f"{path}: {kind(ours)} where Kite has {kind(theirs)}"]
    if isinstance(theirs, list):
        if not theirs or not ours:
            return []
        if all(isinstance(item, dict) for item in theirs):
            template, keys = merged(theirs)
            return [
                error for i, item in enumerate(ours) for error in shape_errors(item, template, f"{path}[{i}]", keys)
            ]
        return shape_errors(ours[0], theirs[0], f"{path}[0]")
    if isinstance(theirs, dict):
        required = set(theirs) if required is None else required
        errors = [f"{path}: missing {key!r}" for key in sorted(required - set(ours))]
        errors += [f"{path}: {key!r} is not in Kite's answer" for key in sorted(set(ours) - set(theirs))]
        for key in set(ours) & set(theirs):
            errors += shape_errors(ours[key], theirs[key], f"{path}.{key}")
        return errors
    return []


def raw(paper, method: str, path: str, **kwargs) -> object:
    headers = {"X-Kite-Version": "3", "Authorization": f"token paperkey:{paper.kite.access_token}"}
    response = requests.request(method, f"{paper.url}{path}", headers=headers, timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def traded(paper):
    """An account with a filled buy, a sale of holdings and an open order."""
    buy(paper.kite, "SBIN", 2)
    paper.kite.place_order("regular", "NSE", "INFY", "SELL", 1, "CNC", "MARKET", market_protection=-1)
    paper.open_order = buy(paper.kite, "SBIN", 1, order_type="LIMIT", price=700, market_protection=None)
    return paper


@pytest.mark.parametrize(
    ("mock_name", "method", "path"),
    [
        ("profile", "GET", "/user/profile"),
        ("margins", "GET", "/user/margins"),
        ("margins_equity", "GET", "/user/margins/equity"),
        ("holdings", "GET", "/portfolio/holdings"),
        ("positions", "GET", "/portfolio/positions"),
        ("orders", "GET", "/orders"),
        ("trades", "GET", "/trades"),
    ],
)
def test_read_endpoints_match_kite_shapes(traded, mock_name, method, path):
    assert shape_errors(raw(traded, method, path), mock(mock_name)) == []


def test_quotes_match_kite_shapes(paper):
    ltp = raw(paper, "GET", "/quote/ltp", params={"i": "NSE:INFY"})
    assert shape_errors(ltp["NSE:INFY"], mock("ltp")["NSE:INFY"]) == []
    paper.monotonic.advance(1)
    quote = raw(paper, "GET", "/quote", params={"i": "NSE:INFY"})
    assert shape_errors(quote["NSE:INFY"], mock("quote")["NSE:INFY"]) == []
    paper.monotonic.advance(1)
    ohlc = raw(paper, "GET", "/quote/ohlc", params={"i": "NSE:INFY"})
    assert shape_errors(ohlc["NSE:INFY"], mock("ohlc")["NSE:INFY"]) == []


def test_order_endpoints_match_kite_shapes(traded):
    order_id = traded.open_order
    # Zerodha's order_info mock predates fields its orders mock has; history rows carry both.
    history_fields, required = merged(mock("order_info"))
    template = {**merged(mock("orders"))[0], **history_fields}
    for row in raw(traded, "GET", f"/orders/{order_id}"):
        assert shape_errors(row, template, required=required) == []
    [filled] = [o["order_id"] for o in raw(traded, "GET", "/orders") if o["status"] == "COMPLETE"][:1]
    assert shape_errors(raw(traded, "GET", f"/orders/{filled}/trades"), mock("order_trades")) == []
    placed = raw(
        traded,
        "POST",
        "/orders/regular",
        data={
            "exchange": "NSE",
            "tradingsymbol": "IDEA",
            "transaction_type": "BUY",
            "quantity": 1,
            "product": "CNC",
            "order_type": "MARKET",
            "market_protection": -1,
        },
    )
    assert shape_errors(placed, mock("order_response")) == []
    assert shape_errors(raw(traded, "DELETE", f"/orders/regular/{order_id}"), mock("order_cancel")) == []


def test_session_endpoints_match_kite_shapes(paper):
    _, query = request_token(paper.url)
    checksum = hashlib.sha256(f"paperkey{query['request_token']}papersecret".encode()).hexdigest()
    session = requests.post(
        f"{paper.url}/session/token",
        data={"api_key": "paperkey", "request_token": query["request_token"], "checksum": checksum},
        timeout=5,
    ).json()["data"]
    assert shape_errors(session, mock("generate_session")) == []
    logout = raw(
        paper, "DELETE", "/session/token", params={"api_key": "paperkey", "access_token": session["access_token"]}
    )
    assert shape_errors(logout, mock("session_logout")) == []


def test_the_instrument_list_matches_kites_csv(make_paper):
    paper = make_paper(history={"NIFTY 50": [["2026-11-20", 10.0, 12.0, 9.0, 11.0, 0]]})
    ours = requests.get(f"{paper.url}/instruments/NSE", timeout=5).text
    theirs = (MOCKS / "instruments_nse.csv").read_text()
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    kite_stock = next(csv.DictReader(io.StringIO(theirs)))
    rows = {row["tradingsymbol"]: row for row in csv.DictReader(io.StringIO(ours))}
    for column in ("last_price", "expiry", "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange"):
        assert rows["SBIN"][column] == kite_stock[column], column
    # Kite's tokens carry the exchange token and, in the lowest byte, the segment (NSE equities: 1).
    for row in [*csv.DictReader(io.StringIO(theirs)), rows["SBIN"]]:
        assert int(row["instrument_token"]) == int(row["exchange_token"]) * 256 + 1
    assert int(rows["NIFTY 50"]["instrument_token"]) % 256 == 9  # NSE indices, as NIFTY 50's 256265


def test_the_shape_check_catches_differences():
    assert shape_errors({"a": 1}, {"a": 1, "b": 2}) == ["data: missing 'b'"]
    assert shape_errors({"a": "x"}, {"a": 1}) == ["data.a: str where Kite has number"]
    assert shape_errors({"a": 1, "c": 3}, {"a": 1}) == ["data: 'c' is not in Kite's answer"]
    assert shape_errors([{"a": 1}], [{"a": 1, "b": 2}, {"a": 2}]) == []
