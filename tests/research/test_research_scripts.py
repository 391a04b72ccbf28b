"""analyze_stocks.py and generate_portfolio.py as a user runs them, against the fakes."""

import json
import os
import subprocess
import sys
from pathlib import Path

from niftybaskets.marketdata.nse import INDEX_CONSTITUENTS
from niftybaskets.rebalance.basket import load_basket
from niftybaskets.webserver import BackgroundServer
from tests.fakes.niftyindices import FakeNiftyIndices, constituent_csv
from tests.fakes.nse import RECORDED, quote_payload
from tests.research.conftest import INDEX, INDUSTRIES, STOCKS
from tests.research.test_portfolio import basket_answer

REPOSITORY = Path(__file__).resolve().parents[2]


def run(script, *args, env, cwd):
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / script), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_analyze_then_generate(tmp_path, nse, gemini_server):
    forecast = gemini_server.respond
    gemini_server.respond = lambda call: (
        basket_answer(call, k=2) if call.prompt.startswith("Index:") else forecast(call)
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "NSE_", "DATA_", "DOCS_"))},
        "GEMINI_API_KEYS": "key-one,key-two,key-three",
        "GEMINI_BASE_URL": gemini_server.url,
        "NSE_BASE_URL": nse.url,
        "DATA_DIR": str(tmp_path / "data"),
        "DOCS_DIR": str(tmp_path / "docs"),
    }
    analyzed = run("analyze_stocks.py", "-i", "NIFTY TEST 5", "-p", "-w", "3", env=env, cwd=tmp_path)
    assert analyzed.returncode == 0, analyzed.stderr
    assert "Done: 5 researched" in analyzed.stdout
    assert "#3:" in analyzed.stdout and "key-one" not in analyzed.stdout + analyzed.stderr
    again = run("analyze_stocks.py", "-i", "NIFTY TEST 5", env=env, cwd=tmp_path)
    assert "0 researched, 5 reused" in again.stdout
    generated = run("generate_portfolio.py", "-i", "NIFTY TEST 5", "-n", "4", "-k", "2", env=env, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    [basket] = (tmp_path / "docs" / "baskets").glob("*.json")
    assert len(load_basket(basket).weights) == 2
    assert json.loads(basket.read_text())["forecasts"].startswith("forecasts/")
    assert "Latest baskets" in (tmp_path / "docs" / "index.md").read_text()


def test_missing_keys_and_bad_options_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEMINI_")}
    assert run("analyze_stocks.py", env=env, cwd=tmp_path).returncode == 2
    result = run("generate_portfolio.py", "-n", "3", "-k", "5", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "K <= N" in result.stderr


def test_generate_without_forecasts_says_to_analyze_first(tmp_path):
    env = {**os.environ, "GEMINI_API_KEYS": "k", "DATA_DIR": str(tmp_path / "data"), "DOCS_DIR": str(tmp_path / "docs")}
    result = run("generate_portfolio.py", "-i", "NIFTY TEST 5", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "analyze_stocks.py" in result.stderr


def test_when_nse_lists_no_stocks_the_index_comes_from_nse_indices_priced_by_quotes(tmp_path, nse, gemini_server):
    nse.recordings[INDEX_CONSTITUENTS[0]] = (
        200,
        (RECORDED / "equity_stock_indices_nifty50_2026-05-27_index_row_only.json").read_text(),
        "application/json",
    )
    indices = FakeNiftyIndices()
    indices.publish(INDEX, constituent_csv([(f"{s} Ltd.", INDUSTRIES[s], s) for s in STOCKS]))
    for symbol, price in STOCKS.items():
        nse.quotes[symbol] = quote_payload(symbol, price, price, str(price * 0.8), str(price * 1.2))
    with BackgroundServer(indices.app) as indices_server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "NSE_", "DATA_", "DOCS_"))},
            "GEMINI_API_KEYS": "key-one",
            "GEMINI_BASE_URL": gemini_server.url,
            "NSE_BASE_URL": nse.url,
            "NIFTY_INDICES_BASE_URL": f"{indices_server.url}/IndexConstituent",
            "DATA_DIR": str(tmp_path / "data"),
        }
        analyzed = run("analyze_stocks.py", "-i", INDEX, env=env, cwd=tmp_path)
    assert analyzed.returncode == 0, analyzed.stderr
    assert "NSE listed no priced stocks for the index" in analyzed.stdout
    assert f"{INDEX}: the list of stocks from niftyindices." in analyzed.stdout
    assert "Done: 5 researched" in analyzed.stdout
