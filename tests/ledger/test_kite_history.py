"""Kite's historical data as the ledger's price source: the paper exchange serves candles through
the real kiteconnect SDK, adjusted for the split as Kite's are."""

import json
from datetime import date, datetime

import pytest
from rich.console import Console

from niftybaskets.cli.score_ledger import ScoreRequest, score
from niftybaskets.kite.client import KiteClient
from niftybaskets.ledger.history import HistoryError, KiteHistory
from niftybaskets.market import IST
from niftybaskets.ratelimit import RateLimiter
from tests.fakes.clock import SteppingMonotonic
from tests.ledger.conftest import INDEX, STOCKS
from tests.ledger.test_ledger import FIRST_GROSS, FIRST_INDEX, SECOND_GROSS

SPLIT_DAY = "2025-08-20"


def candles(rows: dict, halve_before: str | None = None) -> list[list]:
    """Kite-style daily rows; with `halve_before`, days before it are adjusted for a 1:2 split."""
    out = []
    for day, (open_, close, *_) in sorted(rows.items()):  # (open, close, ...) as the fake NSE keeps them
        factor = 0.5 if halve_before and day.isoformat() < halve_before else 1.0
        o, c = open_ * factor, close * factor
        out.append([day.isoformat(), o, max(o, c), min(o, c), c, 1000])
    return out


def kite_history(paper) -> KiteHistory:
    limiter = RateLimiter(SteppingMonotonic(), sleep=lambda seconds: None)
    return KiteHistory(KiteClient(paper.kite, limiter=limiter, sleep=lambda seconds: None))


@pytest.fixture
def kite_paper(make_paper, world):
    """Kite's candles of the same days as the fake NSE's, up to 19 Sep."""
    world.trade_on(date(2025, 9, 19))
    stocks = world.nse.stock_history
    history = {symbol: candles(stocks[symbol], SPLIT_DAY if symbol == "ALPHA" else None) for symbol in STOCKS}
    history["NIFTY SMLCAP 250"] = candles(world.nse.index_history[INDEX])
    return make_paper(history=history)


def test_kite_candles_score_the_same_ledger_as_nse(world, kite_paper):
    world.clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=IST))  # every missing day a week old
    source = kite_history(kite_paper)
    console = Console(width=200, record=True)
    score(world.settings(), ScoreRequest(None, ("kite",), "open"), console, world.clock, [source])
    data = json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())
    first, second, _ = data["baskets"]
    assert data["prices"] == ["kite"]
    assert first["gross_return"] == pytest.approx(FIRST_GROSS)  # Kite's split-adjusted 101 -> 110
    assert first["index"]["return"] == pytest.approx(FIRST_INDEX)
    assert second["gross_return"] == pytest.approx(SECOND_GROSS)
    assert "Kite Connect's daily candles" in (world.docs / "performance" / "nifty-smallcap-250.md").read_text()

    again = Console(width=200, record=True)
    score(world.settings(), ScoreRequest(None, ("kite",), "open"), again, world.clock, [kite_history(kite_paper)])
    assert "Asked kite 0 times" in again.export_text()

    # NSE's prices after Kite's: the split is taken from NSE's corporate actions all the same.
    score(world.settings(), ScoreRequest(None, ("nse",), "open"), Console(), world.clock, [world.source()])
    assert json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())["baskets"][0][
        "gross_return"
    ] == pytest.approx(FIRST_GROSS)


def test_a_plan_without_historical_data_says_to_use_nse(world, make_paper):
    paper = make_paper(history={"ALPHA": candles(STOCKS["ALPHA"])}, rules={"historical_data": False})
    before = world.tree()
    with pytest.raises(HistoryError, match=r"does not include it\. Score with NSE.s prices instead: --source nse"):
        score(world.settings(), ScoreRequest(None, ("kite",), "open"), Console(), world.clock, [kite_history(paper)])
    assert world.tree() == before
