"""The market-data clients read NSE's, NSE Indices' and Yahoo's recorded real answers, served as
they were recorded, and say clearly what they cannot read."""

import json
import time
from datetime import date

import pytest

from niftybaskets.marketdata.answers import NotFound, SourceDown, UnexpectedAnswer
from niftybaskets.marketdata.niftyindices import NiftyIndicesClient
from niftybaskets.marketdata.nse import (
    CORPORATE_ACTIONS,
    EQUITY_HISTORY,
    INDEX_CONSTITUENTS,
    INDEX_HISTORY,
    QUOTE,
    NseClient,
)
from niftybaskets.marketdata.yahoo import YahooClient
from tests.fakes.nse import RECORDED
from tests.fakes.yahoo import RECORDED as YAHOO_RECORDED

D = date.fromisoformat


def wrapped(services, route: str, name: str, wrap) -> None:
    """Serve a recording that its project kept unwrapped, in the envelope NSE sends it in."""
    body = wrap(json.loads((RECORDED / name).read_text(encoding="utf-8")))
    services.nse.recordings[route] = (200, json.dumps(body), "application/json")


def test_the_2026_quote_after_the_close_reads_the_official_close_previous_close_and_band(services):
    services.serve_recording(QUOTE, "getquoteapi_getsymboldata_ETERNAL.json")
    quote = NseClient(services.nse_url).quote("ETERNAL")
    assert (quote.last_price, quote.previous_close) == (269.45, 271.75)  # the close, not the last trade 268.2
    assert (quote.lower_circuit, quote.upper_circuit) == (242.55, 296.35)
    assert quote.source == "nse"


def test_a_quote_recorded_while_the_market_was_open_reads_the_last_trade(services):
    wrapped(
        services, QUOTE, "getquoteapi_getsymboldata_HDFCBANK_equityResponse0.json", lambda e: {"equityResponse": [e]}
    )
    quote = NseClient(services.nse_url).quote("HDFCBANK")
    recorded = json.loads((RECORDED / "getquoteapi_getsymboldata_HDFCBANK_equityResponse0.json").read_text())
    assert recorded["metaData"]["closePrice"] == 0  # no close yet
    assert quote.last_price == recorded["orderBook"]["lastPrice"] > 0
    assert quote.previous_close == recorded["metaData"]["previousClose"]


def test_routes_that_are_gone_or_blocked_are_a_refusal_never_no_data(services):
    services.nse.recordings[QUOTE] = (404, "Not Found", "text/plain")  # as if NSE moved today's route too
    client = NseClient(services.nse_url)
    with pytest.raises(SourceDown, match=r"404 for /api/NextApi/.*gone.*then NSE answered HTTP 403.*Access Denied"):
        client.quote("SBIN")
    calls = len(services.nse.api_calls)
    with pytest.raises(SourceDown):
        client.quote("IRCTC")
    assert len(services.nse.api_calls) == calls  # a route found gone is not asked again
    services.nse.recordings[CORPORATE_ACTIONS] = (404, "Not Found", "text/plain")
    with pytest.raises(SourceDown, match="gone"):
        client.corporate_actions("SBIN")  # not "no splits"


def test_an_index_list_with_only_the_index_row_is_no_list(services):
    services.serve_recording(INDEX_CONSTITUENTS[0], "equity_stock_indices_nifty50_2026-05-27_index_row_only.json")
    with pytest.raises(NotFound, match="listed no priced stocks for the index 'NIFTY 50'"):
        NseClient(services.nse_url).index_constituents("NIFTY 50")


def test_the_previous_index_route_is_asked_when_todays_is_gone(services):
    services.nse.recordings[INDEX_CONSTITUENTS[0]] = (404, "Not Found", "text/plain")
    services.serve_recording(INDEX_CONSTITUENTS[1], "equity_stockIndices_nifty50_2025-01-01_oldroute_truncated.json")
    [maruti] = NseClient(services.nse_url).index_constituents("NIFTY 50")
    assert maruti["symbol"] == "MARUTI" and maruti["last_price"] == 11185
    assert maruti["company"] == "Maruti Suzuki India Limited"
    assert maruti["industry"] == "Passenger Cars & Utility Vehicles"


def test_history_rows_fall_on_their_trade_day_and_only_the_eq_series_counts(services):
    services.serve_recording(EQUITY_HISTORY[0], "generateSecurityWiseHistoricalData_SBIN_2024-08-19_T0_and_EQ.json")
    rows = NseClient(services.nse_url).equity_history("SBIN", D("2024-08-19"), D("2024-08-19"))
    assert rows == [{"day": D("2024-08-19"), "open": 815, "close": 813.7, "previous_close": 812.1}]


def test_a_utc_timestamp_without_the_day_field_is_read_in_ist(services):
    body = json.loads((RECORDED / "generateSecurityWiseHistoricalData_SBIN_2024-08-05_EQ.json").read_text())
    for row in body["data"]:
        del row["mTIMESTAMP"]  # only the instant "2024-08-04T18:30:00.000Z" is left
    services.nse.recordings[EQUITY_HISTORY[0]] = (200, json.dumps(body), "application/json")
    [row] = NseClient(services.nse_url).equity_history("SBIN", D("2024-08-05"), D("2024-08-05"))
    assert row["day"] == D("2024-08-05")  # a Monday, not Sunday the 4th


def test_the_old_equity_history_is_asked_when_todays_route_is_gone(services):
    services.nse.recordings[EQUITY_HISTORY[0]] = (404, "Not Found", "text/plain")
    wrapped(services, EQUITY_HISTORY[1], "historical_cm_equity_HDFCBANK_oldroute_rows.json", lambda r: {"data": r})
    [row] = NseClient(services.nse_url).equity_history("HDFCBANK", D("2025-04-01"), D("2025-04-01"))
    assert row == {"day": D("2025-04-01"), "open": 1802, "close": 1767.85, "previous_close": 1828.2}


def test_the_2026_index_history_is_a_flat_list(services):
    wrapped(services, INDEX_HISTORY[0], "historicalOR_indicesHistory_niftybank_data_rows.json", lambda r: {"data": r})
    rows = NseClient(services.nse_url).index_history("NIFTY BANK", D("2025-12-15"), D("2025-12-15"))
    assert rows == [{"day": D("2025-12-15"), "open": 59053.7, "close": 59461.8}]


def test_the_old_index_history_shape_is_still_read(services):
    services.nse.recordings[INDEX_HISTORY[0]] = (404, "Not Found", "text/plain")
    wrapped(
        services,
        INDEX_HISTORY[1],
        "historical_indicesHistory_nifty50_oldroute_price_turnover.json",
        lambda r: {"data": {"indexCloseOnlineRecords": r["price"], "indexTurnoverRecords": r["turnover"]}},
    )
    [row] = NseClient(services.nse_url).index_history("NIFTY 50", D("2025-04-01"), D("2025-04-01"))
    assert row["day"] == D("2025-04-01")


def test_corporate_actions_are_read_with_their_ex_dates(services):
    services.serve_recording(CORPORATE_ACTIONS, "corporate_actions_GENSOL.json")
    assert NseClient(services.nse_url).corporate_actions("GENSOL") == [
        {"ex_date": D("2023-10-17"), "subject": "Bonus 2:1"}
    ]


def test_an_answer_not_understood_is_kept_without_cookies_and_named(services, tmp_path):
    services.nse.recordings[QUOTE] = (200, '{"equityResponse": {"moved": true}}', "application/json")
    services.nse.recordings["/api/quote-equity"] = (200, "<html>maintenance</html>", "text/html")
    client = NseClient(services.nse_url, unexpected_dir=tmp_path / "unexpected")
    with pytest.raises(UnexpectedAnswer) as raised:
        client.quote("SBIN")
    kept = sorted((tmp_path / "unexpected").iterdir())
    assert len(kept) == 2 and all(str(path) in str(raised.value) for path in kept[:1])
    text = "\n".join(path.read_text() for path in kept)
    assert '{"equityResponse": {"moved": true}}' in text and "maintenance" in text
    assert "session-cookie" not in text and "nsit" not in text.lower()
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"


def test_the_recorded_constituent_files_list_every_stock(services):
    services.indices.publish_recorded("NIFTY SMALLCAP 250", "ind_niftysmallcap250list.csv")
    services.indices.publish_recorded("NIFTY 50", "ind_nifty50list.csv")
    client = NiftyIndicesClient(f"{services.indices_url}/IndexConstituent")
    smallcaps = client.index_constituents("NIFTY SMALLCAP 250")
    assert len(smallcaps) == 250
    assert {"symbol": "ACMESOLAR", "company": "ACME Solar Holdings Ltd.", "industry": "Power"}.items() <= smallcaps[
        0
    ].items()
    assert {stock["symbol"] for stock in client.index_constituents("NIFTY 50")} >= {"M&M", "BAJAJ-AUTO"}
    with pytest.raises(NotFound, match=r"ind_niftymicro999list\.csv"):
        client.index_constituents("NIFTY MICRO 999")


def yahoo_recording(services, ticker: str, name: str) -> None:
    services.yahoo.recordings[ticker] = (YAHOO_RECORDED / name).read_text(encoding="utf-8")


def test_yahoo_history_puts_each_bar_on_its_session_and_skips_empty_bars(services):
    yahoo_recording(services, "AAPL.NS", "chart_AAPL_1d_2020-08-31_2020-11-07_split_and_dividend.json")
    yahoo_recording(services, "BTC.NS", "chart_BTC-USD_1d_2020_with_null_bars_truncated.json")
    client = YahooClient(services.yahoo_url)
    rows = client.daily_history("AAPL", D("2020-08-31"), D("2020-11-07"), is_index=False)
    assert rows[0] == {"day": D("2020-08-31"), "open": pytest.approx(127.58, abs=0.01), "close": pytest.approx(129.04)}
    assert len(rows) == 49
    btc = json.loads((YAHOO_RECORDED / "chart_BTC-USD_1d_2020_with_null_bars_truncated.json").read_text())
    bars = btc["chart"]["result"][0]["timestamp"]
    rows = client.daily_history("BTC", D("2020-01-01"), D("2021-12-31"), is_index=False)
    assert len(rows) == len(bars) - 3  # three recorded bars carry null prices


def test_yahoos_recorded_refusals(services):
    client = YahooClient(services.yahoo_url)
    with pytest.raises(NotFound, match="No data found, symbol may be delisted"):
        client.quote("NOSUCH")
    services.yahoo.limited = True
    with pytest.raises(SourceDown, match="HTTP 429"):
        client.quote("SBIN")


def test_a_yahoo_quote_in_another_currency_or_days_old_is_refused(services):
    yahoo_recording(services, "WSKT.NS", "chart_WSKT.JK_1d_2020-01-02_asia_jakarta.json")
    client = YahooClient(services.yahoo_url)
    with pytest.raises(NotFound, match=r"Yahoo prices WSKT\.NS in IDR, not INR"):
        client.quote("WSKT")
    services.yahoo.last_prices = {"SBIN.NS": (812.5, 800.0)}
    quote = client.quote("SBIN")
    assert (quote.last_price, quote.previous_close, quote.source) == (812.5, 800.0, "yahoo")
    services.yahoo.market_time = time.time() - 6 * 86400
    with pytest.raises(NotFound, match=r"Yahoo's last price for SBIN is from .*: too old to trade on"):
        client.quote("SBIN")


def test_yahoo_answers_in_shapes_we_cannot_read_are_kept_not_tracebacks(services, tmp_path):
    client = YahooClient(services.yahoo_url, unexpected_dir=tmp_path)
    for body in ('{"chart": {"result": null, "error": "busy"}}', '{"chart": {"result": [null]}}', "[1, 2]"):
        services.yahoo.recordings["SBIN.NS"] = body
        with pytest.raises(UnexpectedAnswer):
            client.quote("SBIN")
    services.yahoo.recordings["SBIN.NS"] = '{"chart": {"result": [{"timestamp": [1], "indicators": null}]}}'
    with pytest.raises(UnexpectedAnswer):
        client.daily_history("SBIN", D("2024-01-01"), D("2024-01-02"), is_index=False)


def test_a_constituent_file_that_is_not_csv_is_kept_not_a_traceback(services, tmp_path):
    services.indices.publish("NIFTY 50", "Company Name,Industry,Symbol,Series,ISIN Code\n" + '"' + "x" * 200_000)
    with pytest.raises(UnexpectedAnswer, match="not CSV"):
        NiftyIndicesClient(f"{services.indices_url}/IndexConstituent", unexpected_dir=tmp_path).index_constituents(
            "NIFTY 50"
        )
