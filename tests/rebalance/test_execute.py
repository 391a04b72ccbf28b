"""The rebalancer through the paper exchange: the happy path and every error path Kite has."""

from datetime import datetime

import requests
from kiteconnect import KiteConnect
from kiteconnect.exceptions import NetworkException

from niftybaskets.market import IST
from niftybaskets.rebalance.execute import RunMode
from tests.conftest import buy

WEIGHTS = {"SBIN": 0.5, "TCS": 0.3, "IDEA": 0.2}


def trades(paper):
    return [(t["transaction_type"], t["tradingsymbol"], t["quantity"]) for t in paper.kite.trades()]


def tags(paper):
    return [o["tag"] for o in paper.kite.orders()]


def arm(paper, **fault):
    requests.post(f"{paper.url}/admin/faults", json=fault, timeout=5).raise_for_status()


def test_a_run_sells_first_then_buys_and_reaches_the_optimum(paper, rebalance, basket_file):
    result = rebalance(paper, basket_file(WEIGHTS))
    assert not result.failed
    assert trades(paper)[0] == ("SELL", "INFY", 10)
    assert {symbol for side, symbol, _ in trades(paper) if side == "BUY"} == {"SBIN", "TCS", "IDEA"}
    assert result.deficit_before > 100000 and result.deficit_after < 3500  # TCS at 3500 is one coarse share
    assert result.deficit_after == result.first_plan.deficit_after
    assert all(tag.startswith(result.run_id) and len(tag) <= 20 and tag.isalnum() for tag in tags(paper))
    assert len(set(tags(paper))) == len(tags(paper))
    assert "no order can lower the deficit further" in result.stop_reason


def test_a_dry_run_sends_nothing(paper, rebalance, basket_file):
    result = rebalance(paper, basket_file(WEIGHTS), mode=RunMode.DRY_RUN)
    assert paper.kite.orders() == []
    assert result.stop_reason == "dry run: nothing was sent"
    assert result.first_plan.orders


def test_it_waits_for_0914_then_retries_until_the_market_takes_orders(make_paper, rebalance, basket_file, clock):
    paper = make_paper(rules={"token_expiry": False})
    clock.set(datetime(2026, 11, 21, 11, 0, tzinfo=IST))  # Saturday
    result = rebalance(paper, basket_file(WEIGHTS))
    assert not result.failed, result.stop_reason
    assert any("Waiting for the market" in message and "Mon 23 Nov 09:14" in message for message in result.messages)
    first = paper.kite.orders()[0]
    assert first["order_timestamp"] == datetime(2026, 11, 23, 9, 15)  # tried from 09:14 every 3 s, taken at 09:15
    assert result.pauses.slept.count(3.0) == 20
    assert len(paper.kite.orders()) == len(set(tags(paper)))


def test_an_order_placed_but_whose_answer_is_lost_is_found_not_repeated(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=502, when="after", times=2)
    result = rebalance(paper, basket_file(WEIGHTS))
    assert not result.failed
    assert len(tags(paper)) == len(set(tags(paper)))
    found = [o for o in result.orders if "found in the order book" in o.message]
    assert len(found) == 2
    assert all(o.status == "COMPLETE" for o in found)


def test_a_failure_before_placing_is_retried_once_the_book_shows_nothing(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=503, times=2)
    arm(paper, endpoint="POST /orders/regular", status=429, times=1)
    rebalance(paper, basket_file(WEIGHTS))
    sells = [o for o in paper.kite.orders() if o["transaction_type"] == "SELL"]
    assert len(sells) == 1 and sells[0]["status"] == "COMPLETE"


def test_a_timeout_after_placing_is_found_by_tag(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", delay=1.0, when="after", status=504)
    kite = KiteConnect("paperkey", access_token=paper.kite.access_token, root=paper.url, timeout=0.3)
    result = rebalance(paper, basket_file(WEIGHTS), kite=kite)
    assert len(tags(paper)) == len(set(tags(paper)))
    assert any("ReadTimeout" in o.message for o in result.orders)


def test_a_rejected_order_is_reported_and_never_retried(make_paper, rebalance, basket_file):
    paper = make_paper(rules={"tpin": True})
    result = rebalance(paper, basket_file(WEIGHTS))
    [refused] = [o for o in result.orders if o.side == "SELL"]
    assert refused.status == "REJECTED" and "Authorisation, CDSL TPIN" in refused.message
    assert [o["tradingsymbol"] for o in paper.kite.orders() if o["transaction_type"] == "SELL"] == []
    assert any(o.side == "BUY" and o.status == "COMPLETE" for o in result.orders)  # the rest goes on
    assert "orders were refused for INFY" in result.stop_reason


def test_a_stock_stuck_at_its_circuit_stops_the_loop_instead_of_sending_twice(paper, rebalance, basket_file):
    prices = {"SBIN": {"last_price": 960, "lower_circuit": 640, "upper_circuit": 960}}
    requests.post(f"{paper.url}/admin/prices", json=prices, timeout=5).raise_for_status()
    result = rebalance(paper, basket_file(WEIGHTS), fill_timeout=2.0)
    assert "orders still open after the wait: SBIN" in result.stop_reason
    assert [o["tradingsymbol"] for o in paper.kite.orders()].count("SBIN") == 1


def test_an_earlier_runs_open_orders_are_waited_for_and_block_a_rerun(paper, rebalance, basket_file):
    buy(paper.kite, "IDEA", 1, order_type="LIMIT", price=9, market_protection=None, tag="NBOLDRUN001")
    result = rebalance(paper, basket_file(WEIGHTS), fill_timeout=1.0)
    assert result.failed
    assert "earlier run's orders still open" in result.stop_reason
    assert len(paper.kite.orders()) == 1


def test_a_rerun_after_a_finished_run_sends_nothing_new(paper, rebalance, basket_file):
    rebalance(paper, basket_file(WEIGHTS))
    before = len(paper.kite.orders())
    again = rebalance(paper, basket_file(WEIGHTS))
    assert len(paper.kite.orders()) == before
    assert again.orders == []


def test_a_dead_session_stops_the_run_with_the_login_command(paper, rebalance, basket_file):
    paper.exchange.expire_sessions("ZP0001")
    result = rebalance(paper, basket_file(WEIGHTS))
    assert result.failed
    assert "python3 scripts/kite_login.py" in result.stop_reason


def test_with_the_old_20_percent_block_and_t1_sales_no_order_is_rejected(make_paper, rebalance, basket_file):
    paper = make_paper(rules={"sale_proceeds": "block_20_percent"}, cash=0, t1_holdings={"TCS": 2})
    result = rebalance(paper, basket_file({"SBIN": 0.6, "IDEA": 0.4}))
    assert not [o for o in result.orders if o.status in ("REJECTED", "FAILED")]
    assert not result.failed
    assert "usable only from the next session" in result.stop_reason


def count_calls(kite, name):
    """Count calls of one SDK method (the client side of the wire, not our code)."""
    calls = []
    original = getattr(kite, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    setattr(kite, name, counted)
    return calls


def test_outside_the_opening_minutes_a_closed_market_stops_the_run_at_once(make_paper, rebalance, basket_file, clock):
    paper = make_paper(rules={"token_expiry": False})
    for moment in (datetime(2026, 11, 21, 7, 0, tzinfo=IST), datetime(2026, 11, 23, 7, 0, tzinfo=IST)):
        clock.set(moment)
        attempts = count_calls(paper.kite, "place_order")
        result = rebalance(paper, basket_file(WEIGHTS), wait=False)
        assert len(attempts) == 1
        assert result.failed and "The market is closed" in result.stop_reason
        assert 3.0 not in result.pauses.slept


def test_a_price_move_between_reads_never_trades_a_stock_back(make_paper, rebalance, basket_file):
    paper = make_paper(cash=6000, holdings={"SBIN": 30}, t1_holdings={}, average_prices={"SBIN": 800})
    reads = count_calls(paper.kite, "holdings")
    original = paper.kite.holdings

    def market_moves():
        if len(reads) == 2:  # the read after the sells: SBIN falls
            requests.post(f"{paper.url}/admin/prices", json={"SBIN": 700}, timeout=5).raise_for_status()
        return original()

    paper.kite.holdings = market_moves
    result = rebalance(paper, basket_file({"SBIN": 0.5, "IDEA": 0.5}))
    for symbol in ("SBIN", "IDEA"):
        assert len({o.side for o in result.orders if o.symbol == symbol and o.filled}) <= 1


def test_kite_not_answering_is_exit_1_with_a_message(paper, rebalance, basket_file):
    arm(paper, endpoint="GET /portfolio/holdings", status=503, times=4)
    result = rebalance(paper, basket_file(WEIGHTS))
    assert result.failed
    assert "Kite did not answer" in result.stop_reason and "Nothing was sent" in result.stop_reason


def test_a_lost_answer_with_the_order_book_down_stops_and_names_the_tag(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=502, when="after")
    placed = count_calls(paper.kite, "place_order")
    book = paper.kite.orders

    def order_book_down_after_the_first_order():
        if placed:
            raise NetworkException("Gateway timed out", code=504)
        return book()

    paper.kite.orders = order_book_down_after_the_first_order
    result = rebalance(paper, basket_file(WEIGHTS))
    paper.kite.orders = book
    [unknown] = [o for o in result.orders if o.status == "UNKNOWN"]
    assert result.failed and f"Look for tag {unknown.tag}" in result.stop_reason
    assert result.deficit_after is None
    assert len(paper.kite.orders()) == 1  # the one that was placed; nothing more was sent


def test_a_holding_kite_gives_no_price_is_left_out_not_fatal(paper, rebalance, basket_file):
    original = paper.kite.holdings

    def suspended_infy():
        rows = original()
        for row in rows:
            if row["tradingsymbol"] == "INFY":
                row["last_price"] = 0
        return rows

    paper.kite.holdings = suspended_infy
    paper.exchange.rules.market_data = False  # the parts of the exchange share its rules
    result = rebalance(paper, basket_file({"SBIN": 0.5, "IDEA": 0.5}))
    assert any("No price for INFY" in message for message in result.messages)
    assert all(o.symbol != "INFY" for o in result.orders)


def test_a_storm_of_429s_is_bounded_and_ends_in_exit_1(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=429, times=100)
    attempts = count_calls(paper.kite, "place_order")
    result = rebalance(paper, basket_file(WEIGHTS))
    assert result.failed
    assert all(o.status == "FAILED" for o in result.orders if o.status != "NOT SENT")
    assert len(attempts) <= 4 * len(result.orders)
    assert paper.kite.orders() == []
