"""What a user confirms is what is sent, and a dry run's report shows the planned result (issue 12, items 1-2).

The paper exchange plays Kite (KITE_API_ROOT) and scripts/rebalance_portfolio.py runs as a user runs it.
"""

import json
import re

import pytest

from niftybaskets.config import Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.client import KiteClient
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.market import NseCalendar
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.rebalance.execute import Rebalancer, RunMode, RunOptions
from niftybaskets.rebalance.report import report_data
from niftybaskets.store import TokenStore
from tests.rebalance.conftest import Pauses
from tests.rebalance.test_rebalance_script import KEY, run

# After the first live run (to TCS alone): INFY sold today, TCS bought today, ₹3,000 cash left.
FIRST = {"TCS": 1.0}
# The second basket wants INFY back and less TCS: neither may happen today, so the cash buys SBIN.
SECOND = {"INFY": 0.3, "TCS": 0.5, "SBIN": 0.2}
# Here the cash left could only buy INFY back: nothing is to be done today.
BUY_BACK = {"INFY": 0.5, "TCS": 0.5}
WIDE = {"COLUMNS": "240"}  # one table row per line


@pytest.fixture
def kite_is_paper(make_paper, tmp_path):
    """A stored login for the paper exchange playing Kite (open around the clock); basket writer."""
    paper = make_paper(rules={"market_hours": False, "token_expiry": False})
    settings = Settings(
        _env_file=None, kite_api_key="paperkey", kite_api_root=paper.url, encryption_key=KEY, data_dir=tmp_path / "data"
    )
    store = TokenStore(settings.store_path)
    Sessions(settings, store, fernet_from_key(KEY)).save(
        KiteSession("ZP0001", "Paper", paper.kite.access_token, "2026-11-23T09:00:00+05:30")
    )
    store.close()

    def basket(name: str, weights: dict[str, float]) -> str:
        path = tmp_path / name
        path.write_text(json.dumps({"weights": weights}))
        return str(path)

    env = {"KITE_API_KEY": "paperkey", "KITE_API_ROOT": paper.url, "ENCRYPTION_KEY": KEY, **WIDE}
    return paper, basket, env


def table_orders(text: str) -> set[tuple[str, str, int]]:
    """(stock, side, quantity) of every order line in the console table(s) of `text`."""
    found = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|┃]", line)]
        if len(cells) < 8 or not re.fullmatch(r"[A-Z&_-]+", cells[1] or "-"):
            continue
        for side, quantity in re.findall(r"\b(BUY|SELL) (\d+)", cells[7]):
            found.add((cells[1], side, int(quantity)))
    return found


def placed(paper, skip: int = 0) -> set[tuple[str, str, int]]:
    return {(o["tradingsymbol"], o["transaction_type"], o["quantity"]) for o in paper.kite.orders()[skip:]}


def test_after_an_earlier_live_run_the_confirm_preview_lists_exactly_what_is_sent(kite_is_paper, tmp_path):
    paper, basket, env = kite_is_paper
    first = run(basket("first.json", FIRST), "--live", "--quiet", "--no-wait", tmp_path=tmp_path, env_extra=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ("INFY", "SELL", 10) in placed(paper)  # sold today
    earlier = len(paper.kite.orders())

    second = run(
        basket("second.json", SECOND),
        "--live",
        "--user-id",
        "ZP0001",
        "--no-wait",
        tmp_path=tmp_path,
        env_extra=env,
        stdin="CONFIRM\n",
    )
    assert second.returncode == 0, second.stdout + second.stderr
    preview, _, _ = second.stdout.partition("Type CONFIRM")
    sent = placed(paper, earlier)
    assert sent, "the second run should have something to do: spend the cash left"
    assert table_orders(preview) == sent
    assert not any(symbol == "INFY" and side == "BUY" for symbol, side, _ in sent)  # no buy-back of today's sale


def test_a_dry_run_after_a_live_run_the_same_day_plans_no_buy_back(kite_is_paper, tmp_path):
    paper, basket, env = kite_is_paper
    first = run(basket("first.json", FIRST), "--live", "--quiet", "--no-wait", tmp_path=tmp_path, env_extra=env)
    assert first.returncode == 0, first.stdout + first.stderr
    earlier = len(paper.kite.orders())
    report = tmp_path / "dry.json"
    dry = run(
        basket("second.json", BUY_BACK), "--quiet", "--report-json", str(report), tmp_path=tmp_path, env_extra=env
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert len(paper.kite.orders()) == earlier  # a dry run sends nothing
    stocks = {stock["symbol"]: stock for stock in json.loads(report.read_text())["stocks"]}
    assert stocks["INFY"]["planned"] == []  # sold today: not bought back
    assert stocks["TCS"]["planned"] == []  # bought today: not sold
    assert table_orders(dry.stdout) == set()
    assert "no order can lower the deficit further" in dry.stdout


def test_a_dry_runs_report_shows_the_planned_holdings_after(kite_is_paper, tmp_path):
    paper, basket, env = kite_is_paper
    report, summary = tmp_path / "dry.json", tmp_path / "summary.md"
    dry = run(
        basket("basket.json", {"SBIN": 0.5, "IDEA": 0.5}),
        "--quiet",
        "--report-json",
        str(report),
        tmp_path=tmp_path,
        env_extra={**env, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    data = json.loads(report.read_text())
    stocks = {stock["symbol"]: stock for stock in data["stocks"]}
    for stock in stocks.values():
        change = sum(int(q) if side == "BUY" else -int(q) for side, q in (o.split() for o in stock["planned"]))
        assert stock["held_after"] == stock["held_before"] + change
        assert stock["held_after_is_expected"] is True
    assert stocks["SBIN"]["held_before"] == 0 and stocks["SBIN"]["held_after"] > 0
    assert stocks["INFY"]["held_after"] == 0

    # The console and the job summary show the same planned numbers, and say they are planned.
    sbin = next(line for line in dry.stdout.splitlines() if re.search(r"[│|] SBIN ", line))
    assert re.split(r"\s*[│|]\s*", sbin.strip(" │|"))[-1] == str(stocks["SBIN"]["held_after"])
    assert "planned after" in dry.stdout
    markdown = summary.read_text()
    assert "planned after" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| SBIN |"))
    assert row.rstrip(" |").rsplit("|", 1)[-1].strip() == str(stocks["SBIN"]["held_after"])
    assert paper.kite.orders() == []


def test_a_live_run_whose_plan_differs_from_the_confirmed_preview_sends_no_more_than_confirmed(
    paper, clock, basket_file
):
    pauses = Pauses(clock)
    messages: list[str] = []
    client = KiteClient(paper.kite, RateLimiter(pauses.monotonic, pauses.sleep), sleep=pauses.sleep)
    rebalancer = Rebalancer(
        lambda: client,
        basket_file({"SBIN": 0.5, "IDEA": 0.5}),
        RunOptions(mode=RunMode.PAPER, wait=False, cash_buffer=0.0, fill_timeout=10.0),
        user_id="ZP0001",
        clock=clock,
        sleep=pauses.sleep,
        calendar=NseCalendar(),
        say=messages.append,
        confirmed=[("SBIN", "BUY", 1)],  # as if the account or prices had changed since the preview
    )
    result = rebalancer.run()
    [note] = [n for n in report_data(result)["notes"] if "changed after the preview" in n]
    assert "previewed SBIN BUY 1" in note and "INFY SELL 10" in note
    assert any("changed after the preview" in message for message in messages)
    placed = [(o.symbol, o.side, o.quantity) for o in result.orders if o.order_id]
    assert placed == [("SBIN", "BUY", 1)]  # the unconfirmed sale and the larger buy were not sent
    held_back = [o for o in result.orders if not o.order_id]
    assert held_back and all("beyond the preview you confirmed" in o.message for o in held_back)
    assert {o["tradingsymbol"] for o in paper.kite.orders()} == {"SBIN"}
