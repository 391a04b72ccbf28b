"""Odd published files and mixed horizons: read, scored and shown, never a crash."""

import json
from datetime import date, datetime

import pytest
from rich.console import Console

from niftybaskets.baskets import Candidate, published_baskets
from niftybaskets.cli.score_ledger import ScoreRequest, score
from niftybaskets.market import IST
from niftybaskets.site.baskets import write_basket
from tests.ledger.conftest import INDEX
from tests.ledger.test_ledger import FIRST_LINK, SECOND_LINK, hand_costs


def run(world) -> dict:
    score(world.settings(), ScoreRequest(None, ("nse",), "open"), Console(width=200), world.clock, [world.source()])
    return json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())


@pytest.mark.parametrize(
    "forecasts_file",
    ["[]", "not json", '{"forecasts": [{"stock_ticker": "ALPHA", "last_price": NaN, "expected_gain_percent": 5}]}'],
)
def test_a_broken_forecasts_file_leaves_the_basket_scored_and_says_so(world, forecasts_file):
    path = world.docs / "baskets" / "forecasts" / f"{world.first.stem}.json"
    path.write_text(forecasts_file)
    data = run(world)
    assert data["baskets"][0]["status"] == "scored"
    assert {f["checked_on"] for f in data["forecasts"]} == {"2025-08-29"}  # the second basket's only
    page = (world.docs / "performance" / "nifty-smallcap-250.md").read_text()
    assert f"- {world.first.stem}: " in page and "forecasts" in page.split(f"- {world.first.stem}: ")[1][:120]


def test_a_creation_time_without_a_zone_gives_way_to_the_files_name(world):
    path = world.docs / "baskets" / f"{world.first.stem}.json"
    basket = json.loads(path.read_text())
    path.write_text(json.dumps({**basket, "creation_date": "2025-08-14T14:30:00"}))  # UTC? IST? unknown
    [first, *_], _ = published_baskets(world.docs)
    assert first.created == datetime(2025, 8, 14, 20, 0, tzinfo=IST)


def test_a_longer_basket_is_sold_when_the_next_one_is_bought(world):
    """A 30-day basket from 1 Aug is followed until the weekly basket of 14 Aug is bought (Monday 18
    Aug's open): the growth line never holds two baskets, nor counts a session twice."""
    for day, price in ((date(2025, 8, 4), 190.0), (date(2025, 9, 2), 116.0), (date(2025, 9, 3), 117.0)):
        world.nse.stock_history["ALPHA"][day] = (price, price, price)
    for day, level in ((date(2025, 8, 4), 16900.0), (date(2025, 9, 2), 17500.0), (date(2025, 9, 3), 17520.0)):
        world.nse.index_history[INDEX][day] = (level, level)
    pool = [Candidate("ALPHA", "Capital Goods", 9.0, 1, 0.0, [207.0], 189.0, 30, "", [])]
    month = write_basket(world.docs, INDEX, datetime(2025, 8, 1, 20, 0, tzinfo=IST), pool, {"ALPHA": 1.0}, "One.")
    world.clock.set(datetime(2025, 9, 20, 10, 0, tzinfo=IST))
    data = run(world)
    assert data["baskets"][0]["sold"]["day"] == "2025-09-03"  # its own score: the full 30 days
    after_month = 100_000 * 202 / 190 - hand_costs(100_000, 100_000 * 202 / 190, 1)
    after_first = after_month * (1 + FIRST_LINK) - hand_costs(after_month, after_month * (1 + FIRST_LINK), 3)
    after_second = after_first * (1 + SECOND_LINK) - hand_costs(after_first, after_first * (1 + SECOND_LINK), 2)
    assert [(p["day"], p["after"], p["following"]) for p in data["growth"]] == [
        ("2025-08-04", "", 100_000),
        ("2025-08-18", month.stem, pytest.approx(after_month)),
        ("2025-08-25", world.first.stem, pytest.approx(after_first)),
        ("2025-09-01", world.second.stem, pytest.approx(after_second)),
    ]
    assert data["growth"][-1]["index"] == pytest.approx(100_000 * 17420 / 16900)  # to basket 3's first open
    assert (world.third.stem, "prices missing: in cash while it was held") in [
        (left["basket"], left["why"]) for left in data["left_out_of_growth"]
    ]
