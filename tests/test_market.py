import logging
from datetime import date, datetime, time

import pytest

from niftybaskets.market import IST, NseCalendar


@pytest.fixture(scope="module")
def calendar() -> NseCalendar:
    return NseCalendar()


def test_weekends_and_2026_holidays_are_not_trading_days(calendar):
    assert calendar.is_trading_day(date(2026, 11, 23))  # Monday
    assert not calendar.is_trading_day(date(2026, 11, 21))  # Saturday
    assert not calendar.is_trading_day(date(2026, 11, 24))  # holiday listed in KITE_FACTS
    for holiday in ("2026-01-26", "2026-03-03", "2026-10-02", "2026-12-25"):
        assert not calendar.is_trading_day(date.fromisoformat(holiday))


def test_next_and_previous_trading_day_skip_weekends_and_holidays(calendar):
    assert calendar.next_trading_day(date(2026, 11, 20)) == date(2026, 11, 23)  # Friday -> Monday
    assert calendar.next_trading_day(date(2026, 11, 23)) == date(2026, 11, 25)  # over the 24th
    assert calendar.previous_trading_day(date(2026, 11, 25)) == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 11, 23, 9, 14, 59, tzinfo=IST), False),
        (datetime(2026, 11, 23, 9, 15, tzinfo=IST), True),
        (datetime(2026, 11, 23, 15, 29, 59, tzinfo=IST), True),
        (datetime(2026, 11, 23, 15, 30, tzinfo=IST), False),
        (datetime(2026, 11, 24, 11, 0, tzinfo=IST), False),  # holiday
        (datetime(2026, 11, 21, 11, 0, tzinfo=IST), False),  # Saturday
        (datetime(2026, 11, 23, 4, 0, tzinfo=IST), False),
    ],
)
def test_market_is_open_only_during_the_normal_session(calendar, moment, open_):
    assert calendar.is_open(moment) is open_


def test_open_check_works_on_utc_times(calendar):
    assert calendar.is_open(datetime.fromisoformat("2026-11-23T04:00:00+00:00"))  # 09:30 IST


def test_latest_day_started(calendar):
    start = time(8, 0)
    assert calendar.latest_day_started(datetime(2026, 11, 23, 7, 59, tzinfo=IST), start) == date(2026, 11, 20)
    assert calendar.latest_day_started(datetime(2026, 11, 23, 8, 0, tzinfo=IST), start) == date(2026, 11, 23)
    assert calendar.latest_day_started(datetime(2026, 11, 24, 12, 0, tzinfo=IST), start) == date(2026, 11, 23)


def test_beyond_the_known_years_weekdays_trade_with_a_warning_and_extra_holidays_count(caplog):
    calendar = NseCalendar(extra_holidays=[date(2027, 1, 26)])
    assert calendar.known_until >= date(2026, 12, 31)
    later = date(calendar.known_until.year + 1, 1, 27)
    while later.weekday() >= 5:
        later = later.replace(day=later.day + 1)
    with caplog.at_level(logging.WARNING):
        assert calendar.is_trading_day(later)
    assert "NSE_EXTRA_HOLIDAYS" in caplog.text
    if calendar.known_until < date(2027, 1, 26):
        assert not calendar.is_trading_day(date(2027, 1, 26))


@pytest.mark.parametrize(
    ("now", "start"),
    [
        ("2026-11-23T08:00", "2026-11-23T09:14"),  # a trading day's morning: wait for 09:14
        ("2026-11-23T09:14:30", "2026-11-23T09:14:30"),  # between 09:14 and 09:15: no wait
        ("2026-11-23T11:00", "2026-11-23T11:00"),  # in the session
        ("2026-11-23T15:31", "2026-11-25T09:14"),  # after the close; the 24th is a holiday
        ("2026-11-21T10:00", "2026-11-23T09:14"),  # Saturday
        ("2026-11-24T10:00", "2026-11-25T09:14"),  # holiday
        ("2026-12-24T16:00", "2026-12-28T09:14"),  # over Christmas and a weekend
    ],
)
def test_orders_start_at_0914_of_the_next_session(calendar, now, start):
    moment = datetime.fromisoformat(now).replace(tzinfo=IST)
    assert calendar.order_window_start(moment) == datetime.fromisoformat(start).replace(tzinfo=IST)
