"""The scoring calendar: when a basket is bought and sold, and when it counts as closed."""

from datetime import date, datetime

import pytest

from niftybaskets.ledger.score import forecast_day, is_final, window
from niftybaskets.market import IST, NseCalendar

CALENDAR = NseCalendar()


@pytest.mark.parametrize(
    ("published", "entry", "exit_day"),
    [
        # Saturday research: Monday's open, sold the next Monday.
        (datetime(2025, 8, 23, 6, 30), date(2025, 8, 25), date(2025, 9, 1)),
        # Before the pre-open auction on a trading day: that day's open is set after publication.
        (datetime(2025, 8, 18, 8, 59), date(2025, 8, 18), date(2025, 8, 25)),
        # From 09:00 the auction is setting the open (public by 09:08): the next session's.
        (datetime(2025, 8, 18, 9, 0), date(2025, 8, 19), date(2025, 8, 26)),
        (datetime(2025, 8, 18, 11, 0), date(2025, 8, 19), date(2025, 8, 26)),
        # Thursday night before Independence Day (Friday): Monday.
        (datetime(2025, 8, 14, 20, 0), date(2025, 8, 18), date(2025, 8, 25)),
        # Exit day on a holiday (Wed 27 Aug, Ganesh Chaturthi): the session before it.
        (datetime(2025, 8, 19, 16, 0), date(2025, 8, 20), date(2025, 8, 26)),
    ],
)
def test_a_basket_is_bought_after_publication_and_sold_within_its_horizon(published, entry, exit_day):
    span = window(CALENDAR, published.replace(tzinfo=IST), 7)
    assert (span.entry, span.exit) == (entry, exit_day)
    assert span.basis < span.entry


def test_a_forecast_is_checked_within_its_horizon_but_never_before_a_session_after_publication():
    saturday = datetime(2025, 8, 23, 6, 30, tzinfo=IST)
    assert forecast_day(CALENDAR, saturday, 7, date(2025, 8, 25)) == date(2025, 8, 29)
    assert forecast_day(CALENDAR, saturday, 1, date(2025, 8, 25)) == date(2025, 8, 25)


def test_a_day_counts_once_nse_has_published_its_prices():
    assert not is_final(date(2025, 9, 1), datetime(2025, 9, 1, 17, 59, tzinfo=IST))
    assert is_final(date(2025, 9, 1), datetime(2025, 9, 1, 18, 0, tzinfo=IST))
