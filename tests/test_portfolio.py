import json
from pathlib import Path

import pytest

from niftybaskets.kite.portfolio import value_portfolio

MOCKS = Path(__file__).resolve().parent / "fixtures" / "recorded" / "kite"


def holding(symbol, quantity, t1=0, price=100.0):
    return {"tradingsymbol": symbol, "quantity": quantity, "t1_quantity": t1, "last_price": price}


def position(symbol, quantity, price=100.0, product="CNC"):
    return {"tradingsymbol": symbol, "quantity": quantity, "last_price": price, "product": product}


def test_settled_t1_and_todays_trades_are_each_counted_once():
    portfolio = value_portfolio(
        [holding("A", 10, t1=2), holding("B", 5)],
        {"net": [position("A", -4), position("C", 3, price=50), position("B", -5)]},
        {"net": 1000.0, "utilised": {"delivery": 200.0}},
    )
    assert portfolio.quantities == {"A": 8, "C": 3}
    assert portfolio.stock_value == 8 * 100 + 3 * 50
    assert portfolio.total == 950 + 1000 + 200


def test_intraday_products_are_not_part_of_the_delivery_portfolio():
    portfolio = value_portfolio([], {"net": [position("A", 7, product="MIS")]}, {"net": 0, "utilised": {}})
    assert portfolio.quantities == {}


def test_zerodhas_mock_payloads_value_as_expected():
    def data(name):
        return json.loads((MOCKS / f"{name}.json").read_text())["data"]

    portfolio = value_portfolio(data("holdings"), data("positions"), data("margins_equity"))
    assert portfolio.quantities == {"AARON": 1, "SBIN": 16}  # the MCX NRML and CO positions are not delivery
    assert portfolio.total == pytest.approx(352.95 + 16 * 762.45 + 99725.05000000002)
