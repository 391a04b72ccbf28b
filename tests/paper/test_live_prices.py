"""Live prices from NSE's quote API (a fake NSE here), on demand and on a refresh cycle."""

import pytest
import requests
import yaml
from kiteconnect import exceptions as kite_errors

from niftybaskets.marketdata.chain import MarketData
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.paper.account_file import parse_account_file
from niftybaskets.paper.embedded import EmbeddedExchange
from niftybaskets.paper.live_prices import PriceRefresher, market_price_source
from niftybaskets.paper.market_data import PriceQuote
from niftybaskets.webserver import BackgroundServer
from tests.conftest import BASE_ACCOUNT, buy
from tests.fakes.nse import FakeNse, quote_payload


@pytest.fixture
def nse():
    fake = FakeNse()
    fake.quotes["IRCTC"] = quote_payload("IRCTC", 731.55, 725.0, "652.50", "797.50")
    fake.quotes["SBIN"] = quote_payload("SBIN", 812.0, 800.0, "720.00", "880.00")
    with BackgroundServer(fake.app) as server:
        fake.url = server.url
        yield fake


def test_the_client_warms_up_cookies_before_calling_the_api(nse):
    api = f"{nse.url}/api/NextApi/apiClient/GetQuoteApi?functionName=getSymbolData&symbol=SBIN"
    assert requests.get(api, timeout=5).status_code == 401
    assert NseClient(nse.url).quote("SBIN").last_price == 812.0


def test_the_price_source_reads_last_price_close_and_bands_and_leaves_out_the_unknown(nse):
    quotes = market_price_source(MarketData([NseClient(nse.url)]))(["IRCTC", "NOSUCH"])
    assert quotes == {"IRCTC": PriceQuote(731.55, 725.0, (652.5, 797.5))}


def test_an_unavailable_nse_gives_no_prices(nse):
    nse.failing = True
    assert market_price_source(MarketData([NseClient(nse.url)]))(["SBIN"]) == {}


@pytest.fixture
def live_paper(nse, tmp_path, clock, monotonic):
    account = {**BASE_ACCOUNT, "live_prices": True, "holdings": {"INFY": 10, "IRCTC": 5}}
    setup = parse_account_file(yaml.safe_dump(account))
    source = market_price_source(MarketData([NseClient(nse.url)]))
    with EmbeddedExchange(
        setup, tmp_path / "live.sqlite", clock=clock, monotonic=monotonic, price_source=source
    ) as paper:
        paper.kite = paper.login()
        yield paper


def test_holdings_without_a_file_price_are_priced_from_nse_at_start(live_paper):
    irctc = {h["tradingsymbol"]: h for h in live_paper.kite.holdings()}["IRCTC"]
    assert (irctc["last_price"], irctc["close_price"]) == (731.55, 725.0)


def test_symbols_missing_from_the_file_are_fetched_when_asked_for(live_paper, nse):
    assert live_paper.kite.ltp("NSE:IRCTC")["NSE:IRCTC"]["last_price"] == 731.55
    nse.quotes["TATAPOWER"] = quote_payload("TATAPOWER", 402.1, 400.0, "360.00", "440.00")
    order_id = buy(live_paper.kite, "TATAPOWER", 2)
    assert live_paper.kite.order_history(order_id)[-1]["average_price"] == 402.1
    with pytest.raises(kite_errors.InputException, match="NSE:NOSUCH"):
        buy(live_paper.kite, "NOSUCH", 1)


def test_the_refresher_updates_known_symbols(live_paper, nse):
    nse.quotes["IRCTC"] = quote_payload("IRCTC", 740.0, 725.0, "652.50", "797.50")
    refreshed = PriceRefresher(
        live_paper.exchange, market_price_source(MarketData([NseClient(nse.url)])), interval=60
    ).refresh()
    assert refreshed == 2  # IRCTC and SBIN; INFY, TCS and IDEA are unknown to this fake NSE
    assert {h["tradingsymbol"]: h["last_price"] for h in live_paper.kite.holdings()}["IRCTC"] == 740.0
