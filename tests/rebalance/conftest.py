"""Rebalancer runs against the paper exchange, with a clock that the run's own pauses move."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from niftybaskets.baskets import load_basket
from niftybaskets.kite.client import KiteClient
from niftybaskets.market import NseCalendar
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.rebalance.execute import Rebalancer, RunMode, RunOptions


@dataclass
class Pauses:
    """Sleeping moves the fake market clock and a monotonic count instead of waiting."""

    clock: object
    slept: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.elapsed += seconds
        self.clock.advance(seconds=seconds)

    def monotonic(self) -> float:
        return self.elapsed


@pytest.fixture
def basket_file(tmp_path):
    def write(weights: dict[str, float]):
        path = tmp_path / "basket.json"
        path.write_text(json.dumps({"stocks": [{"stock_ticker": s, "weight": w} for s, w in weights.items()]}))
        return load_basket(path)

    return write


@pytest.fixture
def rebalance(clock):
    """Run a rebalance of `paper`'s account to `basket`; returns the result and the messages."""

    def run(paper, basket, kite=None, **options):
        pauses = Pauses(clock)
        messages: list[str] = []
        client = KiteClient(kite or paper.kite, RateLimiter(pauses.monotonic, pauses.sleep), sleep=pauses.sleep)
        rebalancer = Rebalancer(
            lambda: client,
            basket,
            RunOptions(**{"mode": RunMode.PAPER, "fill_timeout": 10.0, "cash_buffer": 0.0, **options}),
            user_id="ZP0001",
            clock=clock,
            sleep=pauses.sleep,
            calendar=NseCalendar(),
            say=messages.append,
        )
        result = rebalancer.run()
        result.messages = messages
        result.pauses = pauses
        return result

    return run
