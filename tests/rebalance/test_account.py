"""Prices for the stocks not held: /quote/ltp, or NSE when the Kite plan has no market data."""

import pytest

from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.portfolio import Portfolio
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.rebalance.account import PriceError, read_portfolio
from niftybaskets.rebalance.execute import OrderRecord, Rebalancer
from niftybaskets.webserver import BackgroundServer
from tests.fakes.nse import FakeNse, quote_payload


@pytest.fixture
def nse():
    fake = FakeNse()
    fake.quotes["SBIN"] = quote_payload("SBIN", 812.5, 800.0, "720.00", "880.00")
    with BackgroundServer(fake.app) as server:
        yield MarketData([NseClient(server.url)])


def test_held_stocks_carry_kites_price_and_the_rest_come_from_ltp(paper):
    messages = []
    portfolio = read_portfolio(KiteClient(paper.kite), ["INFY", "SBIN"], None, messages.append)
    assert portfolio.prices["INFY"] == 1500 and portfolio.prices["SBIN"] == 800
    assert portfolio.quantities == {"INFY": 10, "TCS": 2}
    assert portfolio.settled == {"INFY": 10}


def test_without_market_data_prices_come_from_nse(make_paper, nse):
    paper = make_paper(rules={"market_data": False})
    messages = []
    portfolio = read_portfolio(KiteClient(paper.kite), ["SBIN"], nse, messages.append)
    assert portfolio.prices["SBIN"] == 812.5
    assert "no market data" in messages[0]


def test_a_stock_nobody_prices_is_named(make_paper, nse):
    paper = make_paper(rules={"market_data": False})
    with pytest.raises(PriceError, match="no price for NOSUCH"):
        read_portfolio(KiteClient(paper.kite), ["SBIN", "NOSUCH"], nse, lambda _: None)
    with pytest.raises(PriceError, match="no price for SBIN"):
        read_portfolio(KiteClient(paper.kite), ["SBIN"], None, lambda _: None)


def test_sale_money_kite_shows_nowhere_is_counted_back():
    before = Portfolio({"A": 10}, {"A": 100}, cash=0.0, blocked=0.0)
    sells = [OrderRecord(1, "t", "A", "SELL", 10, 100, filled=10, average_price=100)]
    hidden = Portfolio({}, {"A": 100}, cash=600.0, blocked=0.0)  # ₹400 neither credited nor shown held
    shown = Portfolio({}, {"A": 100}, cash=600.0, blocked=400.0)
    assert Rebalancer._withheld(before, hidden, sells) == 400
    assert Rebalancer._withheld(before, shown, sells) == 0
