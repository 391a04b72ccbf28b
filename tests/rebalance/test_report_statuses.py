"""Every order line of every report says what became of it, and why (issue 12, items 3 and 11).

Runs against the paper exchange through the real SDK; the reports are rendered as a user sees them.
"""

import re
from datetime import datetime

import requests
from kiteconnect.exceptions import NetworkException
from rich.console import Console

from niftybaskets.cli.rebalance_portfolio import print_report
from niftybaskets.market import IST
from niftybaskets.rebalance.execute import RunMode
from niftybaskets.rebalance.report import markdown_summary, report_data

WEIGHTS = {"SBIN": 0.5, "TCS": 0.3, "IDEA": 0.2}  # sells INFY, then buys SBIN, TCS and IDEA
OUTCOME = r"(sent|filled|partly filled|refused|failed|cancelled|fate unknown|not sent)"


def arm(paper, **fault):
    requests.post(f"{paper.url}/admin/faults", json=fault, timeout=5).raise_for_status()


def after_first_order(paper, then):
    """Call `then()` once the first order request has been answered (or its answer lost)."""
    original = paper.kite.place_order
    calls = []

    def place_order(*args, **kwargs):
        calls.append(kwargs.get("tradingsymbol"))
        try:
            return original(*args, **kwargs)
        finally:
            if len(calls) == 1:
                then()

    paper.kite.place_order = place_order
    return calls


def console_text(result) -> str:
    console = Console(record=True, width=250)
    print_report(result, console)
    return console.export_text()


def table_cells(text: str) -> dict[str, str]:
    """stock -> its orders cell, from the console table."""
    cells = {}
    for line in text.splitlines():
        parts = [part.strip() for part in line.split("│")]
        if len(parts) > 8 and re.fullmatch(r"[A-Z]+", parts[1]):
            cells[parts[1]] = parts[7]
    return cells


def markdown_cells(text: str) -> dict[str, str]:
    cells = {}
    for line in text.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 6 and re.fullmatch(r"[A-Z]+", parts[1]):
            cells[parts[1]] = parts[5]
    return cells


def assert_every_order_line_has_a_status(result) -> tuple[str, str, dict]:
    """Console, Markdown and JSON: each order says what became of it; each one not filled says why."""
    text, markdown, data = console_text(result), markdown_summary(result), report_data(result)
    for cells in (table_cells(text), markdown_cells(markdown)):
        for symbol, cell in cells.items():
            for line in filter(None, (part.strip() for part in cell.split(","))):
                if line != "-":
                    assert re.fullmatch(rf"(BUY|SELL) \d+( of \d+)? {OUTCOME}", line), (symbol, line)
    for order in (order for record in data["passes"] for order in record["orders"]):
        assert re.fullmatch(OUTCOME, order["outcome"]), order
        if order["outcome"] != "filled":
            assert order["message"], order
            line = f"{order['symbol']} {order['side']} {order['quantity']}: {order['outcome']}"
            assert line in text and line in markdown, line
    planned = {(o.symbol, o.side) for o in result.first_plan.orders}
    recorded = {(o["symbol"], o["side"]) for record in data["passes"] for o in record["orders"]}
    assert planned <= recorded  # nothing planned is left without a line
    return text, markdown, data


def test_a_session_ending_after_the_sells_reports_the_buys_as_not_sent(paper, rebalance, basket_file):
    after_first_order(paper, lambda: paper.exchange.expire_sessions("ZP0001"))
    result = rebalance(paper, basket_file(WEIGHTS))
    assert result.failed and "python3 scripts/kite_login.py" in result.stop_reason
    assert [o["transaction_type"] for o in paper.embedded.login().orders()] == ["SELL"]  # the buys were never sent
    text, markdown, _ = assert_every_order_line_has_a_status(result)
    for symbol in ("SBIN", "TCS", "IDEA"):
        assert re.fullmatch(r"BUY \d+ not sent", table_cells(text)[symbol])
        assert re.fullmatch(r"BUY \d+ not sent", markdown_cells(markdown)[symbol])
        assert re.search(rf"{symbol} BUY \d+: not sent: the run stopped before sending it", text)
    assert re.fullmatch(r"SELL 10 sent", table_cells(text)["INFY"])  # its fill was never seen


def test_an_order_of_unknown_fate_reports_the_buys_after_it_as_not_sent(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=502, when="after")
    book = paper.kite.orders

    def order_book_down_after_the_first_order():
        if placed:
            raise NetworkException("Gateway timed out", code=504)
        return book()

    placed = after_first_order(paper, lambda: None)
    paper.kite.orders = order_book_down_after_the_first_order
    result = rebalance(paper, basket_file(WEIGHTS))
    paper.kite.orders = book
    assert result.failed
    text, markdown, data = assert_every_order_line_has_a_status(result)
    assert re.fullmatch(r"SELL 10 fate unknown", markdown_cells(markdown)["INFY"])
    assert re.fullmatch(r"SELL 10 fate unknown", table_cells(text)["INFY"])
    assert all(re.fullmatch(r"BUY \d+ not sent", table_cells(text)[s]) for s in ("SBIN", "TCS", "IDEA"))
    assert {o["outcome"] for p in data["passes"] for o in p["orders"]} == {"fate unknown", "not sent"}


def test_a_session_ending_during_the_order_book_lookup_says_so_with_the_login_command(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=502, when="after")  # placed, the answer lost
    after_first_order(paper, lambda: paper.exchange.expire_sessions("ZP0001"))
    result = rebalance(paper, basket_file(WEIGHTS))
    assert result.failed
    [unknown] = [o for o in result.orders if o.status == "UNKNOWN"]
    assert "did not answer" not in result.stop_reason
    assert "ended the session" in result.stop_reason
    assert "python3 scripts/kite_login.py --user-id ZP0001" in result.stop_reason
    assert f"tag {unknown.tag}" in result.stop_reason
    assert "session ended" in unknown.message and "did not answer" not in unknown.message
    assert_every_order_line_has_a_status(result)


def test_orders_that_failed_on_503s_are_reported_as_failed_not_refused(paper, rebalance, basket_file):
    arm(paper, endpoint="POST /orders/regular", status=503, times=4)  # the sell of INFY, on every try
    result = rebalance(paper, basket_file(WEIGHTS))
    [failed] = [o for o in result.orders if o.symbol == "INFY"]
    assert failed.status == "FAILED"
    assert not [o for o in paper.kite.orders() if o["tradingsymbol"] == "INFY"]
    assert "refused" not in result.stop_reason
    assert "orders failed for INFY" in result.stop_reason
    text, markdown, data = assert_every_order_line_has_a_status(result)
    assert "INFY SELL 10: failed: " in text and "503" in text.split("INFY SELL 10: failed: ")[1].splitlines()[0]
    assert "refused" not in text and "refused" not in markdown
    assert [o["outcome"] for p in data["passes"] for o in p["orders"] if o["symbol"] == "INFY"] == ["failed"]


def no_doubled_periods(text: str) -> None:
    assert not re.search(r"(?<!\.)\.\.(?!\.)", text), text


def test_stop_reasons_and_messages_end_with_one_period(make_paper, rebalance, basket_file, clock):
    # The session dies while the run waits for Monday's open (tokens end at 06:00): "...run again." once.
    clock.set(datetime(2026, 11, 21, 11, 0, tzinfo=IST))  # Saturday
    paper = make_paper()
    waited = rebalance(paper, basket_file(WEIGHTS))
    assert waited.failed and "run again" in waited.stop_reason
    # A session ended after the sells; a stock stuck at its circuit.
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=IST))
    again = make_paper("again.sqlite")
    after_first_order(again, lambda: again.exchange.expire_sessions("ZP0001"))
    ended = rebalance(again, basket_file(WEIGHTS))
    stuck = make_paper("stuck.sqlite")
    prices = {"SBIN": {"last_price": 960, "lower_circuit": 640, "upper_circuit": 960}}
    requests.post(f"{stuck.url}/admin/prices", json=prices, timeout=5).raise_for_status()
    held = rebalance(stuck, basket_file(WEIGHTS), fill_timeout=2.0)
    assert "still open" in held.stop_reason
    for result in (waited, ended, held):
        no_doubled_periods(console_text(result))
        no_doubled_periods(markdown_summary(result))
        no_doubled_periods(result.stop_reason)
        for order in result.orders:
            no_doubled_periods(order.message)


def test_a_dry_run_already_under_its_target_plans_nothing_and_says_so(paper, rebalance, basket_file):
    result = rebalance(paper, basket_file(WEIGHTS), mode=RunMode.DRY_RUN, target_deficit=10_000_000)
    data = report_data(result)
    assert "at or under the target" in data["stop_reason"]
    assert data["deficit"]["after"] == data["deficit"]["before"]
    assert all(stock["held_after"] == stock["held_before"] and stock["planned"] == [] for stock in data["stocks"])
    assert set(table_cells(console_text(result)).values()) == {"-"}  # no order line, not even "not sent"
    assert data["passes"] == []
