"""The scored ledger end to end: published baskets -> NSE's history (fake NSE, real HTTP) -> the
numbers on docs/performance, checked against a ledger worked out by hand."""

from __future__ import annotations

import json
from datetime import date, datetime
from urllib.parse import quote

import pytest
from rich.console import Console

from niftybaskets.cli.score_ledger import LedgerError, ScoreRequest, score
from niftybaskets.ledger.history import HistoryError, WebHistory
from niftybaskets.market import IST
from niftybaskets.marketdata.yahoo import YahooClient
from tests.ledger.conftest import INDEX, SPLIT

# Equity delivery rates (Zerodha's charges page): STT 0.1% both sides, stamp duty 0.015% on buys,
# NSE 0.00297%, SEBI Rs 10/crore, GST 18% on exchange + SEBI + DP, DP Rs 13 per scrip sold.
STT, STAMP, EXCHANGE, SEBI, GST, DP = 0.001, 0.00015, 0.0000297, 0.000001, 0.18, 13.0


def hand_costs(bought: float, sold: float, scrips: int) -> float:
    turnover = bought + sold
    exchange, sebi, dp = turnover * EXCHANGE, turnover * SEBI, scrips * DP
    return turnover * STT + bought * STAMP + exchange + sebi + dp + GST * (exchange + sebi + dp)


# Basket 1, published Thu 14 Aug 2025 20:00 IST: Friday 15 Aug is a holiday, so it is bought at
# Monday 18 Aug's open and sold at the close of Mon 25 Aug (18 Aug + 7 days). ALPHA's 1:2 split
# went ex on 20 Aug: its 110 on 25 Aug is 220 on the basis of 18 Aug.
FIRST_RETURNS = {"ALPHA": 220 / 202 - 1, "BETA": 95 / 101 - 1, "GAMMA": 54 / 50.5 - 1}
FIRST_GROSS = 0.5 * FIRST_RETURNS["ALPHA"] + 0.3 * FIRST_RETURNS["BETA"] + 0.2 * FIRST_RETURNS["GAMMA"]
FIRST_COSTS = hand_costs(100_000, 100_000 * (1 + FIRST_GROSS), 3)
FIRST_INDEX = 17271 / 17100 - 1  # 18 Aug open to 25 Aug close
# Basket 2, published Sat 23 Aug: bought Mon 25 Aug at the open, sold Mon 1 Sep at the close.
SECOND_RETURNS = {"ALPHA": 115 / 108 - 1, "GAMMA": 57 / 53.5 - 1}
SECOND_GROSS = 0.6 * SECOND_RETURNS["ALPHA"] + 0.4 * SECOND_RETURNS["GAMMA"]
SECOND_INDEX = 17473 / 17300 - 1
# Rs 1 lakh following them as the rebalancer would: basket 1 is sold when basket 2 is bought, at
# Monday 25 Aug's open (ALPHA's 108 is 216 on the basis of 18 Aug), and basket 2 when basket 3 is
# bought, at Monday 1 Sep's open; costs on the money at hand. Basket 3 is still held: the line ends.
FIRST_LINK = 0.5 * (216 / 202 - 1) + 0.3 * (96 / 101 - 1) + 0.2 * (53.5 / 50.5 - 1)
SECOND_LINK = 0.6 * (113 / 108 - 1) + 0.4 * (56 / 53.5 - 1)
AFTER_FIRST = 100_000 * (1 + FIRST_LINK) - hand_costs(100_000, 100_000 * (1 + FIRST_LINK), 3)
AFTER_SECOND = AFTER_FIRST * (1 + SECOND_LINK) - hand_costs(AFTER_FIRST, AFTER_FIRST * (1 + SECOND_LINK), 2)
INDEX_AFTER_FIRST = 100_000 * 17300 / 17100  # 18 Aug open to 25 Aug open
INDEX_AFTER_SECOND = 100_000 * 17420 / 17100  # and on to 1 Sep's open: no session counted twice
# Forecasts: basket 1's are checked on Thu 21 Aug (14 Aug + 7), from the prices they were made
# at; basket 2's on Fri 29 Aug (Sat 30 Aug is no session), when BETA did not trade.
FORECASTS = {  # (basket, symbol): (predicted gain %, realised gain %, error vs target %)
    (1, "ALPHA"): (5.0, (107 / 0.5 / 200 - 1) * 100, (214 / 210 - 1) * 100),
    (1, "BETA"): (3.0, (97 / 100 - 1) * 100, (97 / 103 - 1) * 100),
    (1, "GAMMA"): (8.0, (53 / 50 - 1) * 100, (53 / 54 - 1) * 100),
    (2, "ALPHA"): (4.0, (113 / 108 - 1) * 100, (113 / 112.32 - 1) * 100),
    (2, "GAMMA"): (6.0, (56 / 53.5 - 1) * 100, (56 / 56.71 - 1) * 100),
}
# Spearman by hand: predicted ranks 3,1,5,2,4 and realised ranks 5,1,4,2,3: d^2 = 4+0+1+0+1 = 6.
IC = 1 - 6 * 6 / (5 * (5**2 - 1))


def run(world, **request) -> list:
    options = {"index": None, "sources": ("nse",), "entry": "open", **request}
    return score(world.settings(), ScoreRequest(**options), Console(width=200), world.clock, [world.source()])


def ledger_json(world) -> dict:
    return json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())


def test_returns_costs_and_benchmark_equal_the_hand_ledger(world):
    run(world)
    data = ledger_json(world)
    first, second, third = data["baskets"]
    assert first["basket"] == f"baskets/{world.first.stem}.json"
    assert (first["bought"], first["sold"]) == (
        {"day": "2025-08-18", "at": "open"},
        {"day": "2025-08-25", "at": "close"},
    )
    assert {s["symbol"]: s["return"] for s in first["stocks"]} == pytest.approx(FIRST_RETURNS)
    alpha = next(s for s in first["stocks"] if s["symbol"] == "ALPHA")
    assert alpha["split_bonus_factor"] == 0.5
    assert alpha["rows"] == [
        {"day": "2025-08-18", "open": 202.0, "close": 204.0, "source": "nse"},
        {"day": "2025-08-25", "open": 108.0, "close": 110.0, "source": "nse"},
    ]  # the price rows as NSE sent them, beside the factor that joins them
    assert first["gross_return"] == pytest.approx(FIRST_GROSS)
    assert first["costs_on_100000"]["total"] == pytest.approx(FIRST_COSTS)
    assert first["costs_on_100000"]["dp"] == 3 * DP
    assert first["net_return"] == pytest.approx(FIRST_GROSS - FIRST_COSTS / 100_000)
    assert first["index"]["return"] == pytest.approx(FIRST_INDEX)
    assert first["excess_return"] == pytest.approx(FIRST_GROSS - FIRST_COSTS / 100_000 - FIRST_INDEX)
    assert first["flags"] == []  # the split is NSE-listed: no jump to flag

    assert (second["bought"]["day"], second["sold"]["day"]) == ("2025-08-25", "2025-09-01")
    assert second["gross_return"] == pytest.approx(SECOND_GROSS)
    assert second["index"]["return"] == pytest.approx(SECOND_INDEX)
    assert third["status"] == "open" and third["net_return"] is None

    assert [(p["day"], p["following"], p["index"]) for p in data["growth"]] == [
        ("2025-08-18", 100_000, 100_000),
        ("2025-08-25", pytest.approx(AFTER_FIRST), pytest.approx(INDEX_AFTER_FIRST)),
        ("2025-09-01", pytest.approx(AFTER_SECOND), pytest.approx(INDEX_AFTER_SECOND)),
    ]


def test_forecast_errors_direction_ic_and_calibration_equal_the_hand_ledger(world):
    run(world)
    data = ledger_json(world)
    stems = {world.first.stem: 1, world.second.stem: 2}
    scored = {
        (stems[f["basket"].removeprefix("baskets/forecasts/").removesuffix(".json")], f["symbol"]): (
            f["predicted_gain_percent"],
            f["realised_gain_percent"],
            f["error_percent"],
        )
        for f in data["forecasts"]
    }
    assert scored == {key: pytest.approx(value) for key, value in FORECASTS.items()}
    assert (2, "BETA") not in scored  # no price on 29 Aug: missing, not zero
    assert data["information_coefficient"] == pytest.approx(IC)
    assert data["direction_hit_rate"] == pytest.approx(4 / 5)  # only BETA (predicted up, fell) missed
    # Buckets hold their upper bound: 3%, 4% and 5% are "2% to 5%"; 6% and 8% are "5% to 10%".
    assert data["calibration"] == [
        {
            "label": "2% to 5%",
            "count": 3,
            "mean_predicted": pytest.approx(4.0),
            "mean_realised": pytest.approx(sum(FORECASTS[k][1] for k in [(1, "BETA"), (2, "ALPHA"), (1, "ALPHA")]) / 3),
            "hit_rate": pytest.approx(2 / 3),
        },
        {
            "label": "5% to 10%",
            "count": 2,
            "mean_predicted": pytest.approx(7.0),
            "mean_realised": pytest.approx((FORECASTS[1, "GAMMA"][1] + FORECASTS[2, "GAMMA"][1]) / 2),
            "hit_rate": 1.0,
        },
    ]


def test_the_page_shows_the_ledger_and_each_scored_basket_links_to_its_score(world):
    run(world)
    page = (world.docs / "performance" / "nifty-smallcap-250.md").read_text()
    assert f"| {100 * (FIRST_GROSS - FIRST_COSTS / 100_000):+.2f}% | {100 * FIRST_INDEX:+.2f}% |" in page
    assert "| ₹1,00,000 following the baskets | ₹1,07,414 (the index: ₹1,01,871) on 01 Sep 2025 |" in page
    assert "open until 08 Sep 2025" in page
    assert "BETA has no close for 2025-08-29" in page
    for chart in ("growth", "excess", "calibration"):
        assert f"(nifty-smallcap-250-{chart}.svg)" in page
        assert (world.docs / "performance" / f"nifty-smallcap-250-{chart}.svg").read_text().startswith("<?xml")

    first_page = (world.docs / "baskets" / f"{world.first.stem}.md").read_text()
    anchor = "nifty-smallcap-250-aug-14-2025-20-00-n3-k3"
    assert f"(../performance/nifty-smallcap-250#{anchor})" in first_page
    assert f"<a id='{anchor}'></a>[14 Aug 2025 20:00](../baskets/{quote(world.first.stem)})" in page
    assert "+4.06% before costs" in first_page
    assert "## Score" not in (world.docs / "baskets" / f"{world.third.stem}.md").read_text()  # still open
    assert "- [NIFTY SMALLCAP 250](performance/nifty-smallcap-250)" in (world.docs / "index.md").read_text()


def test_scoring_again_with_nothing_new_changes_no_file_and_asks_nse_nothing(world):
    world.trade_on(date(2025, 9, 19))
    world.clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=IST))  # BETA's missing 29 Aug is a week old
    run(world)
    tree, calls = world.tree(), list(world.nse.history_calls)
    assert run(world) == []
    assert world.tree() == tree
    assert world.nse.history_calls == calls


def test_a_later_run_asks_nse_only_for_the_new_days_and_closes_the_open_basket(world):
    run(world)
    asked = len(world.nse.history_calls)
    for symbol, price in (("ALPHA", 116.0), ("GAMMA", 58.0)):
        world.nse.stock_history[symbol] |= {
            date(2025, 9, d): (price, price, price) for d in range(2, 9) if d not in (6, 7)
        }
    world.nse.index_history[INDEX] |= {date(2025, 9, d): (17500.0, 17500.0) for d in range(2, 9) if d not in (6, 7)}
    world.clock.set(datetime(2025, 9, 8, 18, 30, tzinfo=IST))
    run(world)
    new = world.nse.history_calls[asked:]
    assert sorted((what, symbol, first, last) for what, symbol, first, last in new if what != "actions") == [
        ("equity", "ALPHA", date(2025, 9, 2), date(2025, 9, 8)),
        ("equity", "BETA", date(2025, 8, 29), date(2025, 8, 29)),  # its missing day, within the week
        ("equity", "GAMMA", date(2025, 9, 2), date(2025, 9, 8)),
        ("index", INDEX, date(2025, 9, 2), date(2025, 9, 8)),
    ]
    third = ledger_json(world)["baskets"][2]
    assert third["status"] == "scored"
    assert third["gross_return"] == pytest.approx(0.5 * (116 / 113 - 1) + 0.5 * (58 / 56 - 1))


def test_a_price_nse_publishes_late_is_picked_up_by_the_next_run(world):
    late = world.nse.stock_history["GAMMA"].pop(date(2025, 9, 1))
    run(world)
    assert ledger_json(world)["baskets"][1]["status"] == "missing prices"
    world.nse.stock_history["GAMMA"][date(2025, 9, 1)] = late
    world.clock.set(datetime(2025, 9, 3, 10, 0, tzinfo=IST))
    run(world)
    assert ledger_json(world)["baskets"][1]["gross_return"] == pytest.approx(SECOND_GROSS)


def test_an_answer_missing_a_week_of_prices_is_asked_again_not_taken_as_no_trading(world):
    lost = {day: world.nse.stock_history["ALPHA"].pop(day) for day in list(world.nse.stock_history["ALPHA"])[2:8]}
    world.clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=IST))  # long after: no day is waited for
    run(world)
    assert ledger_json(world)["baskets"][0]["status"] == "missing prices"
    world.nse.stock_history["ALPHA"] |= lost
    run(world)
    assert ledger_json(world)["baskets"][0]["gross_return"] == pytest.approx(FIRST_GROSS)


def test_a_missing_exit_price_leaves_the_basket_unscored_and_out_of_the_growth_line(world):
    del world.nse.stock_history["GAMMA"][date(2025, 9, 1)]
    run(world)
    data = ledger_json(world)
    second = data["baskets"][1]
    assert second["status"] == "missing prices"
    assert second["gross_return"] is None and second["net_return"] is None
    assert "GAMMA has no close price for 2025-09-01" in second["missing"]
    assert [p["day"] for p in data["growth"]] == ["2025-08-18", "2025-08-25"]
    page = (world.docs / "performance" / "nifty-smallcap-250.md").read_text()
    assert "prices missing" in page and "is not in the growth line: prices missing" in page
    assert "## Score" not in (world.docs / "baskets" / f"{world.second.stem}.md").read_text()


def test_a_jump_no_listed_action_explains_is_flagged_not_hidden(world):
    world.nse.actions = {}  # NSE's list lacks ALPHA's split
    run(world)
    first = ledger_json(world)["baskets"][0]
    assert first["status"] == "scored"
    assert any(
        "ALPHA: NSE's previous close on 2025-08-20 (103) is not the close of 2025-08-19" in f for f in first["flags"]
    )
    alpha = next(s for s in first["stocks"] if s["symbol"] == "ALPHA")
    assert alpha["return"] == pytest.approx(110 / 202 - 1)  # as traded: a reader sees the flag beside it
    assert "scored (flagged)" in (world.docs / "performance" / "nifty-smallcap-250.md").read_text()


def test_the_close_entry_buys_at_the_first_sessions_close(world):
    run(world, entry="close")
    first = ledger_json(world)["baskets"][0]
    assert first["bought"] == {"day": "2025-08-18", "at": "close"}
    assert first["gross_return"] == pytest.approx(0.5 * (220 / 204 - 1) + 0.3 * (95 / 100 - 1) + 0.2 * (54 / 51 - 1))
    assert first["index"]["return"] == pytest.approx(17271 / 17150 - 1)


def test_when_nse_blocks_the_scorer_stops_and_writes_nothing(world):
    before = world.tree()
    world.nse.blocking_history = True
    with pytest.raises(HistoryError, match="NSE blocks some networks"):
        run(world)
    assert world.tree() == before


def test_index_picks_one_index_and_an_unknown_one_is_refused_with_the_known_ones(world):
    with pytest.raises(
        LedgerError, match=r"no published baskets for NIFTY 50 .* Indices with baskets: NIFTY SMALLCAP 250"
    ):
        run(world, index="NIFTY 50")
    run(world, index=INDEX)
    assert (world.docs / "performance" / "nifty-smallcap-250.md").exists()


def test_prices_of_a_split_before_publication_do_not_move_the_forecast_base(world):
    """No look-ahead and no false crash: a split that went ex between the forecast and its check is
    taken out of the check price, not out of the price the forecast was made from."""
    world.nse.actions = {"ALPHA": [SPLIT]}
    run(world)
    alpha = next(
        f for f in ledger_json(world)["forecasts"] if f["symbol"] == "ALPHA" and f["checked_on"] == "2025-08-21"
    )
    assert (alpha["from_price"], alpha["close"], alpha["split_bonus_factor"]) == (200.0, 214.0, 0.5)
    assert alpha["row"] == {"day": "2025-08-21", "open": 105.0, "close": 107.0, "source": "nse"}


def test_a_source_that_refuses_still_serves_the_prices_it_sent_before(world):
    """NSE refuses on the later run: the stocks it had sent in full keep NSE's prices, the rest come
    from Yahoo, and the page says both."""
    world.nse.stock_history["BETA"][date(2025, 8, 29)] = (96.0, 96.0, 95.0)  # BETA's prices complete
    sources = ("nse", "yahoo")
    history = [world.source(), WebHistory(YahooClient(world.yahoo_url))]
    score(world.settings(), ScoreRequest(None, sources, "open"), Console(width=200), world.clock, history)
    world.nse.blocking_history = True
    days = [date(2025, 9, d) for d in (1, 2, 3, 4, 5, 8)]
    world.yahoo.history = {
        "ALPHA.NS": {day: (116.0, 116.0) for day in days},
        "GAMMA.NS": {day: (58.0, 58.0) for day in days},
        "NIFTYSMLCAP250.NS": {day: (17500.0, 17500.0) for day in days},
    }
    world.clock.set(datetime(2025, 9, 20, 18, 30, tzinfo=IST))
    history = [world.source(), WebHistory(YahooClient(world.yahoo_url))]
    score(world.settings(), ScoreRequest(None, sources, "open"), Console(width=200), world.clock, history)
    data = ledger_json(world)
    assert data["prices"] == ["nse", "yahoo"]
    first, _, third = data["baskets"]
    beta = next(stock for stock in first["stocks"] if stock["symbol"] == "BETA")
    assert {row["source"] for row in beta["rows"]} == {"nse"}  # NSE sent BETA's prices before it refused
    assert {row["source"] for stock in third["stocks"] for row in stock["rows"] if row} == {"yahoo"}
