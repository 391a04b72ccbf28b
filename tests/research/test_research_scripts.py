"""analyze_stocks.py and generate_portfolio.py as a user runs them, against the fakes: each option
in-process through main(), and one run of each script as a process."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from niftybaskets.baskets import load_basket
from niftybaskets.cli import analyze_stocks, generate_portfolio
from niftybaskets.marketdata.nse import INDEX_CONSTITUENTS
from niftybaskets.webserver import BackgroundServer
from tests.fakes.gemini import error
from tests.fakes.niftyindices import FakeNiftyIndices, constituent_csv
from tests.fakes.nse import RECORDED, index_row, quote_payload
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
    generated = run("generate_portfolio.py", "-i", "NIFTY TEST 5", "-n", "4", "-k", "2", env=env, cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    [basket] = (tmp_path / "docs" / "baskets").glob("*.json")
    assert len(load_basket(basket).weights) == 2
    assert json.loads(basket.read_text())["forecasts"].startswith("forecasts/")
    assert "Latest baskets" in (tmp_path / "docs" / "index.md").read_text()


# -- in-process: every option through main() -------------------------------------------------


@pytest.fixture
def research_env(tmp_path, monkeypatch, nse, gemini_server):
    """The scripts' settings pointing at the fakes, run from an empty folder (no .env of the user's)."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_", "DATA_", "DOCS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMINI_API_KEYS", "key-one,key-two")
    monkeypatch.setenv("GEMINI_BASE_URL", gemini_server.url)
    monkeypatch.setenv("NSE_BASE_URL", nse.url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCS_DIR", str(tmp_path / "docs"))
    monkeypatch.chdir(tmp_path)
    forecast = gemini_server.respond
    gemini_server.respond = lambda call: (
        basket_answer(call, k=2) if call.prompt.startswith("Index:") else forecast(call)
    )
    return tmp_path


def analyze(capsys, *args: str) -> tuple[int, str, str]:
    status = analyze_stocks.main(["-i", INDEX, *args])
    said = capsys.readouterr()
    return status, said.out, said.err


def generate(capsys, *args: str) -> tuple[int, str, str]:
    status = generate_portfolio.main(["-i", INDEX, *args])
    said = capsys.readouterr()
    return status, said.out, said.err


def forecast_prompts(gemini_server) -> list[str]:
    return [call.prompt for call in gemini_server.calls if not call.prompt.startswith("Index:")]


def test_analyze_researches_each_stock_of_the_index_named_and_then_reuses_the_forecasts(
    research_env, capsys, gemini_server
):
    status, out, _ = analyze(capsys)
    assert status == 0
    assert f"{INDEX}: 5 stocks; 0 forecast in the last 12 h (reused), 5 to research with 1 worker(s)." in out
    assert "Done: 5 researched, 0 reused, 0 failed" in out and "Calls per key: #1:" in out
    assert "key-one" not in out
    status, out, _ = analyze(capsys)
    assert status == 0 and "0 researched, 5 reused" in out and len(forecast_prompts(gemini_server)) == 5


def test_analyze_parallel_uses_the_workers_asked_for(research_env, capsys):
    status, out, _ = analyze(capsys, "-p", "-w", "3")
    assert status == 0 and "5 to research with 3 worker(s)" in out
    status, out, _ = analyze(capsys, "--workers", "3", "--force-llm")
    assert status == 0 and "with 1 worker(s)" in out  # workers count with --parallel only


@pytest.mark.parametrize("force", [["-fl"], ["--force-llm"], ["-f", "llm"], ["--force", "both"]])
def test_analyze_force_llm_researches_again_within_12_hours(research_env, capsys, gemini_server, force):
    analyze(capsys)
    status, out, _ = analyze(capsys, *force)
    assert status == 0 and "Done: 5 researched, 0 reused" in out
    assert len(forecast_prompts(gemini_server)) == 10


@pytest.mark.parametrize("force", [["-fn"], ["--force-nse"], ["-f", "nse"], ["-f", "both"]])
def test_analyze_force_nse_fetches_the_list_again_and_drops_leavers(research_env, capsys, nse, force):
    analyze(capsys)
    nse.indices[INDEX] = [index_row(s, p, INDUSTRIES[s]) for s, p in STOCKS.items() if s != "DELTA"]
    status, out, _ = analyze(capsys)
    assert status == 0 and f"{INDEX}: 5 stocks" in out  # the list of an hour ago is fresh enough
    status, out, _ = analyze(capsys, *force)
    assert status == 0 and "Left the index since the last list: DELTA" in out and f"{INDEX}: 4 stocks" in out


def test_analyze_stops_at_the_call_budget_keeping_what_is_done(research_env, capsys, gemini_server):
    status, out, _ = analyze(capsys, "--max-calls", "2")
    assert status == 0
    assert "Done: 2 researched" in out and "Not researched (the --max-calls budget ran out)" in out
    assert len(gemini_server.calls) == 2


def test_analyze_asks_for_the_horizon_given(research_env, capsys, gemini_server):
    analyze(capsys)
    status, out, _ = analyze(capsys, "--horizon-days", "30")
    assert status == 0 and "0 reused" in out  # the 7-day forecasts do not answer a 30-day question
    assert "share price 30 days from today" in forecast_prompts(gemini_server)[-1]


def test_analyze_verbose_logs_the_key_rests(research_env, capsys, gemini_server):
    gemini_server.fail("key-one", 429)
    gemini_server.fail("key-two", 429)
    status, _, err = analyze(capsys, "-v")
    assert status == 0 and "is rate-limited; it rests" in err
    gemini_server.fail("key-one", 429)
    gemini_server.fail("key-two", 429)
    status, _, err = analyze(capsys, "-fl")
    assert status == 0 and "rests" not in err


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["-p", "-w", "0"], "--workers must be from 1 to 64"),
        (["--max-calls", "0"], "--max-calls must be at least 1"),
        (["--horizon-days", "400"], "--horizon-days from 1 to 365"),
        (["-f", "everything"], "invalid choice"),
    ],
)
def test_analyze_bad_options_exit_2_saying_why(research_env, capsys, gemini_server, args, problem):
    status, _, err = analyze(capsys, *args)
    assert status == 2 and problem in err and not gemini_server.calls


def test_analyze_help_lists_the_settings_it_reads_with_an_example(capsys):
    assert analyze_stocks.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "GEMINI_API_KEYS" in out and "NSE_BASE_URL" in out and "DATA_DIR" in out
    assert 'python3 scripts/analyze_stocks.py -i "NIFTY SMALLCAP 250"' in out
    assert "(default: NIFTY SMALLCAP 250)" in out
    assert analyze_stocks.main(["--version"]) == 0 and "niftybaskets" in capsys.readouterr().out


def test_analyze_without_keys_exits_2_naming_the_setting(research_env, capsys, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEYS", "")
    status, _, err = analyze(capsys)
    assert status == 2 and "GEMINI_API_KEYS" in err


def test_analyze_with_every_key_refused_exits_2_after_the_summary(research_env, capsys, gemini_server):
    gemini_server.respond = lambda call: error(400, "API key not valid. Please pass a valid API key.")
    status, out, err = analyze(capsys)
    assert status == 2
    assert "Done: 0 researched" in out and "4 not started" in out
    assert "error: no usable Gemini key is left: Gemini refused every key of GEMINI_API_KEYS" in err


def test_analyze_with_every_stock_failing_exits_1(research_env, capsys, gemini_server):
    gemini_server.respond = lambda call: error(400, "Request contains an invalid argument.")
    status, out, _ = analyze(capsys)
    assert status == 1 and "Done: 0 researched, 0 reused, 5 failed" in out


def test_analyze_with_nse_down_and_no_stored_list_exits_1_saying_what_to_do(research_env, capsys, nse):
    nse.failing = True
    status, _, err = analyze(capsys)
    assert status == 1 and "error: could not read the index" in err and "Traceback" not in err


def test_analyze_ctrl_c_exits_130_keeping_the_forecast_in_progress(research_env, capsys, gemini_server):
    forecast = gemini_server.respond

    def interrupted(call):
        if len(gemini_server.calls) == 1:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, while the first forecast is being made
        return forecast(call)

    gemini_server.respond = interrupted
    status, out, err = analyze(capsys)
    assert status == 130
    assert "Stopping: finishing the forecasts in progress" in out
    assert "stopped; the forecasts made so far are kept." in err
    status, out, _ = analyze(capsys)
    assert status == 0 and "1 forecast in the last 12 h (reused), 4 to research" in out


def test_analyze_when_nse_lists_no_stocks_takes_the_index_from_nse_indices_priced_by_quotes(
    research_env, capsys, nse, monkeypatch
):
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
        monkeypatch.setenv("NIFTY_INDICES_BASE_URL", f"{indices_server.url}/IndexConstituent")
        status, out, _ = analyze(capsys)
    assert status == 0
    assert "NSE listed no priced stocks for the index" in out
    assert f"{INDEX}: the list of stocks from niftyindices." in out
    assert "Done: 5 researched" in out


def test_generate_publishes_k_of_the_n_best_and_links_it_from_the_index(research_env, capsys):
    analyze(capsys)
    status, out, _ = generate(capsys, "-n", "4", "-k", "2")
    assert status == 0
    [basket] = (research_env / "docs" / "baskets").glob("*.json")
    assert f"Published {basket.with_suffix('')}.json and .md; docs/index.md updated." in out
    assert basket.name.endswith("__N4_K2.json")
    data = json.loads(basket.read_text())
    assert len(data["stocks_ticker_candidates"]) == 4 and len(load_basket(basket).weights) == 2
    assert basket.stem.replace(" ", "%20") in (research_env / "docs" / "index.md").read_text()


def test_generate_long_options_and_their_defaults(research_env, capsys, gemini_server):
    analyze(capsys)
    status, _, _ = generate(capsys, "--top-n", "5", "--basket-k", "2", "--since-days", "1", "--horizon-days", "7")
    assert status == 0
    [basket] = (research_env / "docs" / "baskets").glob("*.json")
    assert basket.name.endswith("__N5_K2.json")
    [prompt] = [call.prompt for call in gemini_server.calls if call.prompt.startswith("Index:")]
    assert "Horizon: 7 days" in prompt


def test_generate_uses_only_the_forecasts_of_the_last_days_asked(research_env, capsys):
    analyze(capsys)
    time.sleep(1)
    status, _, err = generate(capsys, "-d", "0.00001")  # under a second
    assert status == 1
    assert f"error: no 7-day forecasts for {INDEX} in the last 1e-05 days: run" in err
    assert f'python3 scripts/analyze_stocks.py -i "{INDEX}" first' in err


def test_generate_uses_only_the_forecasts_of_the_horizon_asked(research_env, capsys):
    analyze(capsys)
    status, _, err = generate(capsys, "--horizon-days", "30")
    assert status == 1 and f"no 30-day forecasts for {INDEX}" in err


def test_generate_without_forecasts_says_to_analyze_first(research_env, capsys):
    status, _, err = generate(capsys)
    assert status == 1 and "analyze_stocks.py" in err
    assert not (research_env / "docs").exists()


def test_generate_verbose_logs_the_key_rests(research_env, capsys, gemini_server):
    analyze(capsys)
    gemini_server.fail("key-one", 429)
    gemini_server.fail("key-two", 429)
    status, _, err = generate(capsys, "-n", "4", "-k", "2", "--verbose")
    assert status == 0 and "is rate-limited; it rests" in err


@pytest.mark.parametrize(
    ("args", "problem"),
    [(["-n", "3", "-k", "5"], "need 1 <= K <= N <= 500"), (["-d", "0"], "--since-days must be above 0")],
)
def test_generate_bad_options_exit_2_saying_why(research_env, capsys, args, problem):
    status, _, err = generate(capsys, *args)
    assert status == 2 and problem in err


def test_generate_without_keys_exits_2(research_env, capsys, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEYS")
    status, _, err = generate(capsys)
    assert status == 2 and "GEMINI_API_KEYS" in err


def test_generate_with_every_key_refused_exits_2_publishing_nothing(research_env, capsys, gemini_server):
    analyze(capsys)
    gemini_server.respond = lambda call: error(400, "API key not valid. Please pass a valid API key.")
    status, _, err = generate(capsys, "-n", "4", "-k", "2")
    assert status == 2 and "Gemini refused every key" in err
    assert not (research_env / "docs" / "baskets").exists()


def test_generate_help_lists_the_settings_it_reads_with_an_example(capsys):
    assert generate_portfolio.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "GEMINI_API_KEYS" in out and "DOCS_DIR" in out
    assert 'python3 scripts/generate_portfolio.py -i "NIFTY SMALLCAP 250" -n 50 -k 10' in out
