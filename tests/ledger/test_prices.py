"""Corporate actions as price factors, and the jumps no action explains."""

from datetime import date

import pytest

from niftybaskets.ledger.prices import Adjustment, DayPrice, PriceSeries, price_factor


@pytest.mark.parametrize(
    ("subject", "factor"),
    [
        ("Face Value Split (Sub-Division) - From Rs 10/- Per Share To Rs 2/- Per Share", 0.2),
        ("Face Value Split (Sub-Division) - From Rs 2/- Per Share To Re 1/- Per Share", 0.5),
        ("Fv Split Rs.10/- To Re.1/-", 0.1),
        ("Consolidation of Shares From Re 1/- Per Share To Rs 10/- Per Share", 10.0),
        ("Bonus 1:1", 0.5),
        ("Bonus 1:2", 2 / 3),
        ("Bonus 3:1", 0.25),
        ("Interim Dividend - Rs 2 Per Share", None),
        ("Annual General Meeting/Dividend - Rs 8.50 Per Share", None),
        ("Bonus Ncrps 1:116", None),  # preference shares: the equity does not change
        ("Demerger", None),
    ],
)
def test_corporate_actions_become_price_factors(subject, factor):
    assert price_factor(subject) == (pytest.approx(factor) if factor else None)


def series(closes: dict[int, tuple[float, float | None]], adjustments=()) -> PriceSeries:
    days = {date(2025, 8, d): DayPrice(date(2025, 8, d), c, c, prev) for d, (c, prev) in closes.items()}
    return PriceSeries("ALPHA", "nse", days, list(adjustments))


def test_a_listed_split_joins_prices_and_is_not_a_jump():
    split = Adjustment(date(2025, 8, 20), 0.5, "split")
    prices = series({19: (206.0, 204.0), 20: (105.0, 103.0), 21: (107.0, 105.0)}, [split])
    assert prices.price(date(2025, 8, 21), "close", basis=date(2025, 8, 19)) == 214.0
    assert prices.price(date(2025, 8, 21), "close", basis=date(2025, 8, 20)) == 107.0  # bought after the split
    assert prices.jumps() == []


def test_an_unlisted_split_and_a_crash_are_flagged():
    prices = series({19: (206.0, 204.0), 20: (105.0, 103.0), 21: (70.0, 105.0)})
    flagged = dict(prices.jumps())
    assert "previous close on 2025-08-20 (103) is not the close of 2025-08-19 (206)" in flagged[date(2025, 8, 20)]
    assert "moved -33.3% on 2025-08-21 with no split or bonus listed" in flagged[date(2025, 8, 21)]


def test_a_missing_day_is_none_not_zero():
    prices = series({19: (206.0, 204.0), 21: (107.0, 105.0)})
    assert prices.price(date(2025, 8, 20), "close", basis=date(2025, 8, 19)) is None
