"""Providers asked in order: the first that answers wins, and each one that did not is named with
its reason and what to do."""

import pytest

from niftybaskets.config import ConfigError, Settings
from niftybaskets.marketdata.answers import MarketDataError
from niftybaskets.marketdata.chain import providers_from_settings
from niftybaskets.marketdata.nse import INDEX_CONSTITUENTS, QUOTE
from tests.fakes.niftyindices import constituent_csv
from tests.fakes.nse import ACCESS_DENIED, quote_payload


def test_a_quote_nse_refuses_comes_from_yahoo_and_nse_is_not_asked_again(services, tmp_path):
    services.nse.recordings[QUOTE] = (403, ACCESS_DENIED, "text/html")
    services.yahoo.last_prices = {"SBIN.NS": (812.5, 800.0), "IRCTC.NS": (731.55, 725.0)}
    said: list[str] = []
    quotes = services.market(tmp_path, "nse", "yahoo", said=said).quotes(["SBIN", "IRCTC"]).found
    assert {symbol: (q.last_price, q.source) for symbol, q in quotes.items()} == {
        "SBIN": (812.5, "yahoo"),
        "IRCTC": (731.55, "yahoo"),
    }
    assert "IRCTC" not in services.nse.api_calls  # refused once: not asked again
    [warning] = said
    assert "nse: NSE answered HTTP 403" in warning and "Access Denied" in warning
    assert "from another network" in warning and "asking the next source" in warning


def test_a_symbol_one_source_does_not_know_is_asked_of_the_next(services, tmp_path):
    services.nse.quotes["SBIN"] = quote_payload("SBIN", 812.5, 800.0, "720.00", "880.00")
    services.yahoo.last_prices = {"NEWLIST.NS": (99.5, 98.0)}
    said: list[str] = []
    result = services.market(tmp_path, "nse", "yahoo", said=said).quotes(["SBIN", "NEWLIST", "NOSUCH"])
    quotes = result.found
    assert {symbol: q.source for symbol, q in quotes.items()} == {"SBIN": "nse", "NEWLIST": "yahoo"}
    assert quotes["SBIN"].lower_circuit == 720.0 and quotes["SBIN"].upper_circuit == 880.0
    assert not result.refused("NOSUCH")  # both sources answered: it has no price anywhere
    assert services.nse.api_calls.count("NEWLIST") == 1
    [unpriced] = said
    assert unpriced.startswith("No price for NOSUCH: nse: NSE has no last price for NOSUCH; yahoo: Yahoo has no")


def test_an_index_nse_cannot_list_comes_from_nse_indices_priced_by_the_quote_sources(services, tmp_path):
    services.serve_recording(INDEX_CONSTITUENTS[0], "equity_stock_indices_nifty50_2026-05-27_index_row_only.json")
    services.indices.publish(
        "NIFTY 50", constituent_csv([("Alpha Ltd.", "Power", "ALPHA"), ("Beta Ltd.", "Banks", "BETA")])
    )
    services.nse.quotes["ALPHA"] = quote_payload("ALPHA", 100.0, 99.0, "80.00", "120.00")
    services.yahoo.last_prices = {"BETA.NS": (50.0, 49.0)}
    said: list[str] = []
    stocks, source = services.market(tmp_path, "nse", "niftyindices", "yahoo", said=said).constituents("NIFTY 50")
    assert source == "niftyindices"
    assert [(s["symbol"], s["company"], s["industry"], s["last_price"]) for s in stocks] == [
        ("ALPHA", "Alpha Ltd.", "Power", 100.0),
        ("BETA", "Beta Ltd.", "Banks", 50.0),
    ]
    assert "listed no priced stocks" in said[0] and "niftyindices lists 2 stocks" in said[1]


def test_when_no_source_lists_the_index_each_says_why(services, tmp_path):
    services.nse.failing = True
    with pytest.raises(MarketDataError) as raised:
        services.market(tmp_path, "nse", "niftyindices").constituents("NIFTY 50")
    message = str(raised.value)
    assert "nse: NSE answered HTTP 503" in message and "run again later" in message
    assert "niftyindices: NSE Indices publishes no ind_nifty50list.csv" in message


def test_the_sources_and_their_order_come_from_the_settings():
    settings = Settings(_env_file=None, market_data_sources="yahoo, NSE")
    assert [provider.name for provider in providers_from_settings(settings)] == ["yahoo", "nse"]
    with pytest.raises(ConfigError, match="MARKET_DATA_SOURCES names 'bloomberg': the sources are nse"):
        providers_from_settings(Settings(_env_file=None, market_data_sources="nse,bloomberg"))


def test_a_refused_price_is_never_taken_for_no_price(services, tmp_path):
    services.yahoo.limited = True  # Yahoo answers 429
    said: list[str] = []
    result = services.market(tmp_path, "nse", "yahoo", said=said).quotes(["NOSUCH", "ALSONOT"])
    assert result.found == {} and result.refused("NOSUCH") and result.refused("ALSONOT")
    assert "ALSONOT: nse: NSE has no last price for ALSONOT; yahoo: not asked again (it refused)" in said[-1]


def test_a_refused_price_makes_the_list_fail_over_instead_of_shrinking_the_index(services, tmp_path):
    services.serve_recording(INDEX_CONSTITUENTS[0], "equity_stock_indices_nifty50_2026-05-27_index_row_only.json")
    rows = [("Alpha Ltd.", "Power", "ALPHA"), ("Beta Ltd.", "Banks", "BETA"), ("Gamma Ltd.", "IT", "GAMMA")]
    services.indices.publish("NIFTY 50", constituent_csv(rows))
    services.nse.quotes["ALPHA"] = quote_payload("ALPHA", 100.0, 99.0, "80.00", "120.00")
    services.yahoo.limited = True
    with pytest.raises(MarketDataError, match="the quote sources refused the prices of 2 of its stocks"):
        services.market(tmp_path, "nse", "niftyindices", "yahoo").constituents("NIFTY 50")
    services.yahoo.limited = False  # now Yahoo answers: it has no BETA or GAMMA
    stocks, _ = services.market(tmp_path, "nse", "niftyindices", "yahoo").constituents("NIFTY 50")
    assert [(s["symbol"], s["last_price"]) for s in stocks] == [("ALPHA", 100.0), ("BETA", 0.0), ("GAMMA", 0.0)]


def test_one_unreadable_answer_does_not_take_a_source_out_but_two_do(services, tmp_path):
    services.nse.recordings[QUOTE] = (200, '{"equityResponse": "moved"}', "application/json")
    services.nse.recordings["/api/quote-equity"] = (404, "Not Found", "text/plain")
    services.yahoo.last_prices = {f"{s}.NS": (10.0, 9.0) for s in ("A", "B", "C")}
    said: list[str] = []
    result = services.market(tmp_path, "nse", "yahoo", said=said).quotes(["A", "B", "C"])
    assert {q.source for q in result.found.values()} == {"yahoo"}
    assert services.nse.api_calls == ["A", "B"]  # C was not asked of NSE
    assert len(list((tmp_path / "unexpected").iterdir())) == 2
