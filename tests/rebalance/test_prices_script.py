"""A basket stock the account does not hold, on a Kite plan without market data: priced by the
market-data sources through rebalance_portfolio.py, the report naming where each price came from."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from niftybaskets.marketdata.nse import QUOTE
from niftybaskets.webserver import BackgroundServer
from tests.fakes.nse import ACCESS_DENIED, FakeNse, quote_payload
from tests.fakes.yahoo import FakeYahoo

REPOSITORY = Path(__file__).resolve().parents[2]
ACCOUNT = {
    "user_id": "ZP0001",
    "cash": 100000,
    "holdings": {"IRCTC": 40},
    "prices": {"IRCTC": 731.55},
    "rules": {"market_data": False, "market_hours": False},
}


@pytest.fixture
def market():
    nse, yahoo = FakeNse(), FakeYahoo()
    nse.quotes["SBIN"] = quote_payload("SBIN", 812.5, 800.0, "720.00", "880.00")
    yahoo.last_prices = {"SBIN.NS": (813.0, 800.0)}
    with BackgroundServer(nse.app) as nse_server, BackgroundServer(yahoo.app) as yahoo_server:
        yield nse, {"NSE_BASE_URL": nse_server.url, "YAHOO_BASE_URL": yahoo_server.url}


def rebalance(tmp_path: Path, urls: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    account = tmp_path / "account.yaml"
    account.write_text(yaml.safe_dump(ACCOUNT))
    basket = tmp_path / "basket.json"
    basket.write_text(
        json.dumps({"stocks": [{"stock_ticker": "IRCTC", "weight": 0.5}, {"stock_ticker": "SBIN", "weight": 0.5}]})
    )
    report = tmp_path / "report.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KITE_", "ENCRYPTION_"))}
    env.update(DATA_DIR=str(tmp_path / "data"), **urls)
    result = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "rebalance_portfolio.py"),
            str(basket),
            "--paper",
            "--paper-account",
            str(account),
            "--paper-reset",
            "--quiet",
            "--report-json",
            str(report),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, json.loads(report.read_text()) if report.exists() else {}


def test_nse_prices_a_stock_kite_will_not_quote_and_the_report_says_so(tmp_path, market):
    _, urls = market
    result, report = rebalance(tmp_path, urls)
    assert result.returncode == 0, result.stdout + result.stderr
    sources = {stock["symbol"]: (stock["price"], stock["price_source"]) for stock in report["stocks"]}
    assert sources == {"IRCTC": (731.55, "kite"), "SBIN": (812.5, "nse")}
    assert "no market data" in result.stdout
    [sbin_row] = [line for line in result.stdout.splitlines() if line.startswith("│ SBIN ")]
    assert [cell.strip() for cell in sbin_row.split("│")][3:5] == ["812.50", "nse"]  # price, from


def test_when_nse_refuses_yahoo_prices_it_and_the_warning_names_nse(tmp_path, market):
    nse, urls = market
    nse.recordings[QUOTE] = (403, ACCESS_DENIED, "text/html")
    result, report = rebalance(tmp_path, urls)
    assert result.returncode == 0, result.stdout + result.stderr
    sbin = next(stock for stock in report["stocks"] if stock["symbol"] == "SBIN")
    assert (sbin["price"], sbin["price_source"]) == (813.0, "yahoo")
    assert "nse: NSE answered HTTP 403" in result.stdout and "asking the next source" in result.stdout
