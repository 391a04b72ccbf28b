"""Baskets in the historical published format (tests/fixtures/baskets) are read and scored."""

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from niftybaskets.baskets import published_baskets
from niftybaskets.cli.score_ledger import ScoreRequest, score
from niftybaskets.market import IST
from tests.fakes.clock import FakeClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "baskets"


@pytest.fixture
def docs(tmp_path) -> Path:
    (tmp_path / "fixture-docs" / "baskets").mkdir(parents=True)
    for file in FIXTURES.iterdir():
        shutil.copy(file, tmp_path / "fixture-docs" / "baskets" / file.name)
    return tmp_path / "fixture-docs"


def test_the_predecessors_baskets_are_read_with_their_horizon_and_publication_time(docs):
    baskets, problems = published_baskets(docs)
    assert problems == []
    nifty50, smallcap = baskets
    assert (nifty50.index, nifty50.horizon_days) == ("NIFTY 50", 30)  # expected_gain_1m
    assert (smallcap.index, smallcap.horizon_days) == ("NIFTY SMALLCAP 250", 7)  # expected_gain_1w
    assert smallcap.created == datetime(2025, 8, 18, 3, 17, 43, 270677, tzinfo=IST)
    assert sum(smallcap.weights.values()) == pytest.approx(1)
    assert smallcap.forecasts == []  # the predecessor published no forecasts file


def test_without_prices_they_are_listed_with_what_is_missing(docs, world):
    settings = world.settings(docs_dir=docs)
    score(
        settings,
        ScoreRequest(None, ("nse",), "open"),
        Console(),
        FakeClock(datetime(2026, 1, 5, tzinfo=IST)),
        [world.source()],
    )
    page = (docs / "performance" / "nifty-smallcap-250.md").read_text()
    assert "| Baskets scored | 0 of 1 (0 open, 1 with prices missing) |" in page
    assert "PVRINOX: nse sent no prices for it" in page
    assert "NIFTY 50" in (docs / "index.md").read_text()
