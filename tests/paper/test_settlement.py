"""Sessions end: CNC buys move to T1 then settle, sale money is released, the account keeps its value."""

from datetime import datetime

import pytest
import requests

from niftybaskets.kite.portfolio import value_portfolio
from niftybaskets.market import IST
from tests.conftest import buy, sell


def portfolio(kite):
    return value_portfolio(kite.holdings(), kite.positions(), kite.margins("equity"))


def book(kite) -> dict[str, tuple[int, int, int]]:
    return {h["tradingsymbol"]: (h["quantity"], h["t1_quantity"], h["used_quantity"]) for h in kite.holdings()}


@pytest.fixture
def lasting(make_paper):
    """An account whose token outlives the days these tests cross."""
    return make_paper(rules={"token_expiry": False})


def test_same_day_the_books_show_sales_in_holdings_and_positions_and_count_each_share_once(lasting):
    kite = lasting.kite
    before = portfolio(kite)
    assert before.total == 100000 + 10 * 1500 + 2 * 3500
    sell(kite, "INFY", 4)
    sell(kite, "TCS", 1)
    buy(kite, "SBIN", 10)
    assert book(kite) == {"INFY": (10, 0, 4), "TCS": (0, 2, 1)}
    assert {p["tradingsymbol"]: p["quantity"] for p in kite.positions()["net"]} == {"INFY": -4, "SBIN": 10, "TCS": -1}
    after = portfolio(kite)
    assert after.quantities == {"INFY": 6, "TCS": 1, "SBIN": 10}
    assert after.total == pytest.approx(before.total)


def test_current_rule_settled_sales_are_spendable_at_once_t1_sales_next_session(lasting):
    kite = lasting.kite
    sell(kite, "INFY", 4)  # settled: 6000 usable today
    sell(kite, "TCS", 1)  # T1: 3500 usable next session
    equity = kite.margins("equity")
    assert equity["net"] == 106000
    assert equity["utilised"]["delivery"] == 3500
    assert equity["utilised"]["holding_sales"] == 9500
    assert equity["available"]["cash"] == 100000
    with pytest.raises(Exception, match=r"available margin is 106000\.00"):
        buy(kite, "SBIN", 133)  # 106400


def test_old_rule_blocks_a_fifth_of_settled_sales_until_settlement(make_paper):
    paper = make_paper(rules={"sale_proceeds": "block_20_percent", "token_expiry": False})
    sell(paper.kite, "INFY", 4)
    equity = paper.kite.margins("equity")
    assert equity["net"] == 104800
    assert equity["utilised"]["delivery"] == 1200
    assert portfolio(paper.kite).total == pytest.approx(122000)
    paper.clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    assert paper.kite.margins("equity")["net"] == 106000


def test_the_next_sessions_move_buys_to_t1_then_to_settled_and_release_all_sale_money(lasting, clock):
    kite = lasting.kite
    sell(kite, "INFY", 4)
    sell(kite, "TCS", 1)
    buy(kite, "SBIN", 10)
    clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=IST))  # a holiday: nothing moves
    assert book(kite) == {"INFY": (10, 0, 4), "TCS": (0, 2, 1)}
    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=IST))
    assert book(kite) == {"INFY": (6, 0, 0), "SBIN": (0, 10, 0), "TCS": (1, 0, 0)}
    assert kite.positions() == {"net": [], "day": []}
    equity = kite.margins("equity")
    assert equity["net"] == equity["available"]["opening_balance"] == 100000 + 6000 + 3500 - 8000
    assert equity["utilised"]["delivery"] == 0
    assert kite.orders() == [] and kite.trades() == []
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=IST))
    assert book(kite)["SBIN"] == (10, 0, 0)
    [sbin] = [h for h in kite.holdings() if h["tradingsymbol"] == "SBIN"]
    assert sbin["average_price"] == 800


def test_a_weekend_passes_in_one_step(lasting, clock):
    buy(lasting.kite, "SBIN", 1)
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=IST))  # Friday 27th was a trading day in between
    assert book(lasting.kite)["SBIN"] == (1, 0, 0)


def test_the_previous_close_moves_with_the_session(lasting, clock):
    requests.post(f"{lasting.url}/admin/prices", json={"SBIN": 900}, timeout=5)
    assert lasting.kite.quote("NSE:SBIN")["NSE:SBIN"]["ohlc"]["close"] == 800
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    lasting.monotonic.advance(1)
    quote = lasting.kite.quote("NSE:SBIN")["NSE:SBIN"]
    assert quote["ohlc"]["close"] == 900
    assert (quote["lower_circuit_limit"], quote["upper_circuit_limit"]) == (720, 1080)


def test_open_day_orders_expire_when_the_books_roll(make_paper, clock):
    paper = make_paper(rules={"market_hours": False, "token_expiry": False})
    order_id = buy(paper.kite, "SBIN", 1, order_type="LIMIT", price=700, market_protection=None)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    last = paper.kite.order_history(order_id)[-1]
    assert (last["status"], last["status_message"]) == ("CANCELLED", "DAY order expired when the session closed.")


def test_prices_set_before_the_days_first_request_stay_todays(lasting, clock):
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=IST))
    update = {"SBIN": {"last_price": 820, "close_price": 800, "lower_circuit": 790, "upper_circuit": 830}}
    requests.post(f"{lasting.url}/admin/prices", json=update, timeout=5)
    quote = lasting.kite.quote("NSE:SBIN")["NSE:SBIN"]
    assert (quote["ohlc"]["close"], quote["lower_circuit_limit"], quote["upper_circuit_limit"]) == (800, 790, 830)


def test_with_the_holdings_check_off_an_oversold_position_stays_short(make_paper, clock):
    paper = make_paper(cash=0, holdings={}, t1_holdings={}, rules={"holdings_check": False, "token_expiry": False})
    sell(paper.kite, "SBIN", 10)
    assert portfolio(paper.kite).total == 0
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=IST))
    assert book(paper.kite) == {"SBIN": (0, -10, 0)}
    assert portfolio(paper.kite).total == 0
