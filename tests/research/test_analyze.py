"""analyze(): the index from NSE, one forecast per stock, cache, failures, budget, summary."""

import pytest
from rich.console import Console

from niftybaskets.cli.analyze_stocks import print_summary
from niftybaskets.research.analyze import AnalyzeError, AnalyzeOptions, analyze
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.sources import SourceResolver
from tests.fakes.gemini import answer
from tests.fakes.nse import index_row
from tests.research.conftest import INDEX, STOCKS


def run(store, nse, gemini, clock, **options):
    console = Console(record=True, width=200)
    forecaster = Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run", clock=clock)
    summary = analyze(
        store, nse.client, gemini, forecaster, AnalyzeOptions(index=INDEX, **options), console.print, clock
    )
    print_summary(summary, console.print, 1.0)
    return summary, console.export_text()


def test_every_stock_gets_a_forecast_and_the_list_and_calls_are_stored(store, nse, gemini, clock):
    summary, output = run(store, nse, gemini, clock, workers=3)
    assert sorted(summary.done) == sorted(STOCKS)
    assert {row["symbol"] for row in store.constituents(INDEX)} == set(STOCKS)
    assert len(store.forecasts(INDEX, "2000-01-01")) == 5
    assert store.db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 5
    assert "Done: 5 researched, 0 reused, 0 failed" in output
    assert "Calls per key: #1:" in output and "key-one" not in output


def test_a_fresh_forecast_is_reused_unless_forced(store, nse, gemini, gemini_server, clock):
    run(store, nse, gemini, clock)
    clock.advance(hours=11)
    again, _ = run(store, nse, gemini, clock)
    assert again.cached and not again.done and len(gemini_server.calls) == 5
    forced, _ = run(store, nse, gemini, clock, force_llm=True)
    assert len(forced.done) == 5 and len(gemini_server.calls) == 10
    clock.advance(hours=13)
    stale, _ = run(store, nse, gemini, clock)
    assert len(stale.done) == 5


def test_one_failing_stock_is_skipped_not_fatal(store, nse, gemini, gemini_server, clock):
    respond = gemini_server.respond
    gemini_server.respond = lambda call: answer("broken") if "NSE: GAMMA" in call.prompt else respond(call)
    summary, output = run(store, nse, gemini, clock)
    assert "GAMMA" in summary.failed and len(summary.done) == 4
    assert "Failed GAMMA: the model's answer does not fit the schema" in output


def test_the_call_budget_stops_cleanly_with_what_is_done_kept(store, nse, gemini, clock):
    summary, output = run(store, nse, gemini, clock, max_calls=2)
    assert len(summary.done) == 2 and len(summary.skipped) == 3
    assert len(store.forecasts(INDEX, "2000-01-01")) == 2
    assert "the --max-calls budget ran out" in output


def test_nse_down_uses_the_stored_list_or_says_what_to_do(store, nse, gemini, clock):
    nse.failing = True
    with pytest.raises(AnalyzeError, match=r"nse: NSE answered HTTP 503 .*run again later or from another network"):
        run(store, nse, gemini, clock)
    nse.failing = False
    run(store, nse, gemini, clock)
    nse.failing = True
    clock.advance(days=2)
    summary, output = run(store, nse, gemini, clock, force_nse=True)
    assert "using the 5 stocks stored earlier" in output
    assert len(summary.done) == 5


def test_force_nse_drops_stocks_that_left(store, nse, gemini, clock):
    run(store, nse, gemini, clock)
    nse.indices[INDEX] = [index_row(s, p) for s, p in STOCKS.items() if s != "DELTA"]
    _, output = run(store, nse, gemini, clock, force_nse=True)
    assert "Left the index since the last list: DELTA" in output
    assert "DELTA" not in {row["symbol"] for row in store.constituents(INDEX)}


def test_the_list_is_fetched_again_once_a_day(store, nse, gemini, clock):
    run(store, nse, gemini, clock)
    calls = len(nse.api_calls)
    clock.advance(hours=23)
    run(store, nse, gemini, clock)
    assert len(nse.api_calls) == calls
    clock.advance(hours=2)
    run(store, nse, gemini, clock)
    assert len(nse.api_calls) == calls + 1


def test_the_budget_holds_with_many_workers(store, nse, gemini, gemini_server, clock):
    run(store, nse, gemini, clock, workers=8, max_calls=2)
    assert len(gemini_server.calls) == 2


def test_a_forecast_for_another_horizon_is_not_reused(store, nse, gemini, gemini_server, clock):
    run(store, nse, gemini, clock)
    summary, _ = run(store, nse, gemini, clock, horizon_days=30)
    assert len(summary.done) == 5 and not summary.cached
