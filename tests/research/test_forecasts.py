"""One forecast per stock: schema and search together, the two-phase fallback, sources, checks."""

import json

from niftybaskets.marketdata.nse import constituent
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.sources import SourceResolver
from tests.fakes.gemini import answer
from tests.fakes.nse import index_row
from tests.research.conftest import gain_of, reasoning

STOCK = constituent(index_row("ALPHA", 100.0, "IT"))


def forecaster(gemini, clock, **prompts):
    return Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run1", clock=clock, **prompts)


def test_a_gemini_3_model_answers_in_one_grounded_call_and_sources_come_from_grounding(
    gemini, gemini_server, clock, web
):
    outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", STOCK)
    assert outcome.error is None
    forecast = outcome.forecast
    assert forecast["gain_percent"] == gain_of("ALPHA")
    assert forecast["target_price"] == round(100 * (1 + gain_of("ALPHA") / 100), 2)
    # The grounding links, followed to their pages; the dead one and the repeat dropped; the URL the
    # model typed into its JSON ignored.
    assert json.loads(forecast["sources"]) == [f"{web}/article/ALPHA"]
    [call] = gemini_server.calls
    assert call.grounded and call.schema and "NSE: ALPHA" in call.prompt and "last price 100" in call.prompt
    [record] = outcome.calls
    assert record["prompt_name"] == "forecast" and record["status"] == "ok" and record["key_index"] == 0
    assert json.loads(record["params"])["phase"] == "grounded" and record["prompt_hash"]


def test_a_model_that_refuses_schema_with_search_gets_two_phases(gemini, gemini_server, clock):
    from niftybaskets.research.prompts import load_prompt

    older = load_prompt("forecast").model_copy(update={"model": "gemini-2.5-flash"})
    extract = load_prompt("extract_forecast").model_copy(update={"model": "gemini-2.5-flash"})
    runner = forecaster(gemini, clock, prompt=older, extract=extract)
    first = runner.forecast("NIFTY TEST 5", STOCK)
    assert first.error is None and first.forecast["gain_percent"] == gain_of("ALPHA")
    assert [(c.status, c.grounded, bool(c.schema)) for c in gemini_server.calls] == [
        (400, True, True),  # refused
        (200, True, False),  # grounded research
        (200, False, True),  # extraction with the schema, no tools
    ]
    assert json.loads(first.forecast["sources"])  # from the research call's grounding
    runner.forecast("NIFTY TEST 5", STOCK)
    assert len(gemini_server.calls) == 5  # it remembers: no refused call the second time


def test_malformed_and_schema_violating_answers_fail_that_stock_only(gemini, gemini_server, clock):
    gemini_server.respond = lambda call: answer("not json at all")
    outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", STOCK)
    assert outcome.forecast is None and "does not fit the schema" in outcome.error
    short = {
        "horizon_days": 7,
        "target_price": 101,
        "expected_gain_percent": 1,
        "reasoning": "Too short.",
        "sources": [],
    }
    gemini_server.respond = lambda call: answer(json.dumps(short))
    outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", STOCK)
    assert "reasoning" in outcome.error and "50 to 200" in outcome.error


def test_our_price_decides_the_gain_and_a_disagreement_is_a_warning(gemini, gemini_server, clock):
    body = {"horizon_days": 7, "target_price": 110.0, "expected_gain_percent": 35.0, "reasoning": reasoning("ALPHA")}
    gemini_server.respond = lambda call: answer(json.dumps(body))
    outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", STOCK)
    assert outcome.forecast["gain_percent"] == 10.0
    assert "the model says +35.0% but its target 110" in outcome.warnings[0]


def test_both_wordings_of_the_schema_with_search_refusal_lead_to_two_phases(gemini, gemini_server, clock):
    from niftybaskets.research.prompts import load_prompt

    for wording in (
        "Tool use with a response mime type: 'application/json' is unsupported",
        "controlled generation is not supported with google_search tool.",
    ):
        gemini_server.schema_search_refusal = wording
        runner = forecaster(
            gemini,
            clock,
            prompt=load_prompt("forecast", "gemini-2.5-flash"),
            extract=load_prompt("extract_forecast", "gemini-2.5-flash"),
        )
        assert runner.forecast("NIFTY TEST 5", STOCK).error is None


def test_not_a_number_answers_fail_the_stock_cleanly(gemini, gemini_server, clock):
    for bad in ('"expected_gain_percent": NaN', '"target_price": 1e999'):
        text = (
            f'{{"horizon_days": 7, "target_price": 101, "expected_gain_percent": 1, '
            f'"reasoning": "{reasoning("ALPHA")}", {bad}}}'
        )
        gemini_server.respond = lambda call, text=text: answer(text)
        outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", STOCK)
        assert outcome.forecast is None and "not a number" in outcome.error


def test_a_stock_without_a_price_is_not_sent_to_gemini(gemini, gemini_server, clock):
    outcome = forecaster(gemini, clock).forecast("NIFTY TEST 5", {**STOCK, "last_price": 0.0})
    assert "no source gives a last price" in outcome.error and gemini_server.calls == []


def test_only_https_pages_are_kept_by_default(web):
    assert SourceResolver(timeout=5).resolve([f"{web}/redirect/X"]) == []
    assert SourceResolver(timeout=5, schemes=("http", "https")).resolve([f"{web}/redirect/X"]) == [f"{web}/article/X"]
