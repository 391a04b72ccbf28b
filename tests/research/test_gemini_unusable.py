"""When Gemini cannot serve the run (issue 12, item 11a and 11c).

Every key refused is a setting to fix: the research scripts exit 2, naming the keys by number and
saying what to do. Gemini unreachable or failing ends the run quickly: one deadline for the whole
run, not five minutes per stock, and no new stock started once every call fails alike; those not
started are reported as not researched, with the reason.
"""

from __future__ import annotations

import os
import time

import pytest
from rich.console import Console

from niftybaskets.cli.analyze_stocks import print_summary
from niftybaskets.research.analyze import AnalyzeOptions, analyze
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.gemini import Gemini, GeminiKeysRefused, GeminiUnavailable
from niftybaskets.research.sources import SourceResolver
from tests.fakes.gemini import error
from tests.research.conftest import INDEX, STOCKS
from tests.research.test_portfolio import basket_answer
from tests.research.test_research_scripts import run

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused at once
KEYS = ("key-one", "key-two")
PROMPT = "NSE: ALPHA. Last price: 100"  # what the fake forecast responder reads


def refuse_every_key(call):
    """Gemini's answers to a mistyped key (400 API_KEY_INVALID) and a suspended one (403)."""
    if call.key == "key-one":
        return error(400, "API key not valid. Please pass a valid API key.")
    return error(403, f"Permission denied: Consumer 'api_key:{call.key}' has been suspended.")


def script_env(tmp_path, nse, gemini_url):
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "NSE_", "DATA_", "DOCS_"))},
        "GEMINI_API_KEYS": ",".join(KEYS),
        "GEMINI_BASE_URL": gemini_url,
        "NSE_BASE_URL": nse.url,
        "DATA_DIR": str(tmp_path / "data"),
        "DOCS_DIR": str(tmp_path / "docs"),
    }


def research(store, nse, gemini, clock, workers):
    console = Console(record=True, width=300)
    forecaster = Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run", clock=clock)
    summary = analyze(
        store, nse.client, gemini, forecaster, AnalyzeOptions(index=INDEX, workers=workers), console.print
    )
    print_summary(summary, console.print, 1.0)
    return summary, console.export_text()


# -- every key refused: exit 2 ---------------------------------------------------------------


def test_every_key_refused_stops_analyze_stocks_with_exit_2_naming_keys_by_number(tmp_path, nse, gemini_server):
    gemini_server.respond = refuse_every_key
    done = run("analyze_stocks.py", "--index", INDEX, env=script_env(tmp_path, nse, gemini_server.url), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "Gemini refused every key of GEMINI_API_KEYS" in done.stderr
    assert "key #1: 400 INVALID_ARGUMENT: API key not valid" in done.stderr
    assert "key #2: 403" in done.stderr and "suspended" in done.stderr
    assert "aistudio.google.com/apikey" in done.stderr
    assert not any(key in said for key in KEYS)
    assert "Traceback" not in said
    # Each key asked once; the other stocks are not started, and say why.
    assert len(gemini_server.calls) == 2
    assert "4 not started" in done.stdout and "Not researched (no usable Gemini key is left" in done.stdout


def test_every_key_refused_stops_generate_portfolio_with_exit_2(tmp_path, nse, gemini_server):
    forecast = gemini_server.respond
    gemini_server.respond = lambda call: (
        basket_answer(call, k=2) if call.prompt.startswith("Index:") else forecast(call)
    )
    env = script_env(tmp_path, nse, gemini_server.url)
    assert run("analyze_stocks.py", "--index", INDEX, env=env, cwd=tmp_path).returncode == 0
    gemini_server.respond = refuse_every_key
    done = run("generate_portfolio.py", "--index", INDEX, "-n", "4", "-k", "2", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Gemini refused every key" in done.stderr and "key #1" in done.stderr and "key #2" in done.stderr
    assert "GEMINI_API_KEYS" in done.stderr
    assert not any(key in done.stdout + done.stderr for key in KEYS)
    assert not (tmp_path / "docs" / "baskets").exists()


def test_one_refused_key_is_not_a_setting_error(store, nse, gemini_server, pauses, clock):
    respond = gemini_server.respond
    gemini_server.respond = lambda call: refuse_every_key(call) if call.key == "key-one" else respond(call)
    gemini = Gemini(list(KEYS), gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    summary, _ = research(store, nse, gemini, clock, workers=1)
    assert sorted(summary.done) == sorted(STOCKS) and summary.halt is None and gemini.halted() is None


# -- Gemini unreachable or failing: one deadline per run -------------------------------------


def test_unreachable_gemini_ends_the_run_in_seconds_and_says_why(store, nse, pauses, clock):
    gemini = Gemini(list(KEYS), UNREACHABLE, monotonic=pauses.monotonic, sleep=pauses.sleep)
    summary, output = research(store, nse, gemini, clock, workers=3)
    # Before: every stock retried for five minutes on its own (3 workers: 5 x 300 s of pauses). Now the
    # run stops once the failures are alike and 15 s old (a shorter blip is not an outage).
    assert 15 <= pauses.now <= 30
    assert len(summary.failed) == 3 and len(summary.stopped) == 2 and not summary.done
    assert isinstance(summary.halt, GeminiUnavailable)
    assert all("Gemini cannot be reached" in reason for reason in summary.failed.values())
    assert "Not researched (Gemini cannot be reached: the last" in output
    assert "ConnectError" in output and "check the network" in output
    assert ", ".join(summary.stopped) in output


def test_a_gemini_failing_every_call_shares_one_five_minute_deadline(store, nse, gemini_server, pauses, clock):
    gemini_server.respond = lambda call: error(503)  # the recorded "model is overloaded" body
    gemini = Gemini(list(KEYS), gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    summary, output = research(store, nse, gemini, clock, workers=3)
    # One deadline for the run: about five minutes of pauses in all (the fake clock adds up every
    # worker's pauses), where each stock used to take five minutes of its own (1,500 s for five).
    assert sum(pauses.slept) <= 300 + 3 * 128
    assert len(summary.failed) == 3 and len(summary.stopped) == 2
    assert "kept failing (503 UNAVAILABLE)" in output and "every call of this run" in output


def test_an_answer_clears_the_failures_so_a_blip_stops_nothing(store, nse, gemini_server, pauses, clock):
    gemini_server.fail("key-one", 503, 503)
    gemini_server.fail("key-two", 503, 503)
    gemini = Gemini(list(KEYS), gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    summary, _ = research(store, nse, gemini, clock, workers=1)
    assert sorted(summary.done) == sorted(STOCKS) and not summary.stopped and summary.halt is None


def test_network_failures_after_an_answer_wait_for_the_deadline_not_the_count(gemini_server, pauses):
    from google.genai import types

    gemini = Gemini(["key-one"], gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep, patience=60)
    assert gemini.generate("gemini-3.8-flash", PROMPT, types.GenerateContentConfig()).text
    gemini._clients[0] = Gemini(["key-one"], UNREACHABLE)._clients[0]  # the network goes away mid-run
    with pytest.raises(GeminiUnavailable, match="kept failing"):
        gemini.generate("gemini-3.8-flash", PROMPT, types.GenerateContentConfig())
    assert sum(pauses.slept) == pytest.approx(60)


def test_analyze_stocks_with_gemini_unreachable_exits_1_within_seconds(tmp_path, nse):
    env = script_env(tmp_path, nse, UNREACHABLE)
    began = time.monotonic()
    done = run("analyze_stocks.py", "--index", INDEX, "-p", "-w", "3", env=env, cwd=tmp_path)
    assert time.monotonic() - began < 60  # was 302 s: five minutes of retries per stock
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: Gemini cannot be reached" in done.stderr
    assert "2 not started" in done.stdout and "Not researched (Gemini cannot be reached" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_keys_refused_is_an_error_a_caller_can_tell_apart(gemini_server, pauses):
    from google.genai import types

    gemini_server.respond = refuse_every_key
    gemini = Gemini(list(KEYS), gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    with pytest.raises(GeminiKeysRefused, match="no usable Gemini key"):
        gemini.generate("gemini-3.8-flash", PROMPT, types.GenerateContentConfig())
    assert isinstance(gemini.halted(), GeminiKeysRefused)
    assert gemini.pool.acquire() is None  # never a sleep for ever on benched keys
