"""Contract tests: real Gemini answers recorded by other projects (tests/fixtures/recorded/gemini/,
see PROVENANCE.md), served by the fake to the real google-genai SDK, and what a user notices."""

import json

import requests
from fastapi.responses import JSONResponse
from rich.console import Console

from niftybaskets.baskets import Candidate
from niftybaskets.cli.analyze_stocks import print_summary
from niftybaskets.research.analyze import AnalyzeOptions, analyze
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.gemini import Gemini
from niftybaskets.research.portfolio import choose
from niftybaskets.research.prompts import load_prompt
from niftybaskets.research.sources import SourceResolver
from tests.fakes.gemini import answer, recorded
from tests.research.conftest import INDEX

GROUNDED = "pydantic-ai_test_google_model_web_search_tool.yaml"  # gemini-2.5-pro with googleSearch
STRUCTURED = "pydantic-ai_test_google_native_output_multiple.yaml"  # gemini-2.0-flash, responseSchema
RATE_LIMITED = "roo-code-issue-3883_429_resource_exhausted.json"  # RetryInfo: 26s
OVERLOADED = "eva-agent-issue-50_503_unavailable.json"
STOCK = {
    "symbol": "ALPHA",
    "company": "Alpha Ltd",
    "industry": "IT",
    "last_price": 100.0,
    "previous_close": 99.0,
    "day_low": 98.0,
    "day_high": 101.0,
    "year_low": 80.0,
    "year_high": 120.0,
    "volume": 1000,
    "change_30d": 1.5,
    "change_365d": 12.0,
}


def ask(gemini, model="gemini-3.8-flash"):
    return gemini.generate(model, "Research Alpha (NSE: ALPHA): last price 100.", load_prompt("forecast").config())


def failure(name):
    body = recorded(name)
    return JSONResponse(body, status_code=body["error"]["code"])


def test_a_recorded_grounded_answer_counts_the_search_results_read_as_input(gemini, gemini_server):
    gemini_server.respond = lambda call: recorded(GROUNDED)
    reply = ask(gemini)
    usage = recorded(GROUNDED)["usageMetadata"]
    assert usage["toolUsePromptTokenCount"] == 119 and usage["promptTokenCount"] == 17
    assert reply.input_tokens == 17 + 119  # the prompt and the search results Gemini read
    assert reply.output_tokens == 201 + 213  # the answer and the thinking, both billed as output
    assert reply.input_tokens + reply.output_tokens == usage["totalTokenCount"]
    assert [source.split("/")[2] for source in reply.sources] == [
        "www.google.com",
        "vertexaisearch.cloud.google.com",
        "vertexaisearch.cloud.google.com",
    ]
    assert reply.text.startswith("## Weather in San Francisco")


def test_the_run_summary_counts_the_tool_use_prompt_tokens(store, nse, gemini, gemini_server, clock, web):
    """Every stock is answered with the recorded grounded body: the forecasts fail (it is a weather
    report, not a forecast), but the tokens paid for are in the summary, tool-use prompt included."""
    gemini_server.respond = lambda call: recorded(GROUNDED)
    forecaster = Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run", clock=clock)
    summary = analyze(
        store, nse.client, gemini, forecaster, AnalyzeOptions(index=INDEX), Console(quiet=True).print, clock
    )
    stocks = len(summary.failed)
    assert stocks == 5 and not summary.done
    assert summary.input_tokens == stocks * (17 + 119)
    assert summary.output_tokens == stocks * (201 + 213)
    console = Console(record=True, width=200)
    print_summary(summary, console.print, 1.0)
    assert f"tokens {stocks * 136:,} in, {stocks * 414:,} out" in console.export_text()


def test_a_recorded_structured_answer_is_read_without_tool_use_tokens(gemini, gemini_server):
    gemini_server.respond = lambda call: recorded(STRUCTURED)
    reply = ask(gemini)
    assert json.loads(reply.text)["result"]["data"] == {"country": "Mexico", "language": "Spanish"}
    assert (reply.input_tokens, reply.output_tokens, reply.sources) == (50, 46, [])


def test_a_recorded_429_moves_the_call_to_another_key_which_rests_for_the_delay_given(gemini, gemini_server, pauses):
    respond = gemini_server.respond
    gemini_server.respond = lambda call: failure(RATE_LIMITED) if call.key == "key-one" else respond(call)
    assert ask(gemini).key_index == 1
    assert [(c.key, c.status) for c in gemini_server.calls] == [("key-one", 429), ("key-two", 200)]
    gemini_server.respond = respond
    pauses.now += 25.9
    assert ask(gemini).key_index == 1  # key one rests for the recorded RetryInfo delay, 26 s
    pauses.now += 0.1
    assert ask(gemini).key_index == 0


def test_with_one_key_a_recorded_429_is_waited_out(gemini_server, pauses):
    gemini = Gemini(["only-key"], gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    respond, refused = gemini_server.respond, iter([True])
    gemini_server.respond = lambda call: failure(RATE_LIMITED) if next(refused, False) else respond(call)
    assert ask(gemini).text
    assert pauses.slept == [26.0]


def test_a_recorded_503_is_retried(gemini, gemini_server, pauses):
    overloaded = iter([True, True])
    gemini_server.respond = lambda call: failure(OVERLOADED) if next(overloaded, False) else recorded(STRUCTURED)
    reply = ask(gemini)
    assert json.loads(reply.text)["result"]["kind"] == "CountryLanguage"
    assert [c.status for c in gemini_server.calls] == [503, 503, 200]
    assert pauses.slept == [1.0, 2.0]


def test_the_fakes_own_errors_are_the_recorded_bodies(gemini_server):
    gemini_server.fail("k", 429, 503)
    bodies = [
        requests.post(
            f"{gemini_server.url}/v1beta/models/m:generateContent", headers={"x-goog-api-key": "k"}, json={}, timeout=5
        )
        for _ in range(2)
    ]
    rate_limited = recorded(RATE_LIMITED)
    rate_limited["error"]["details"][-1]["retryDelay"] = "1s"  # the fake's delay, set by the test
    assert (bodies[0].status_code, bodies[0].json()) == (429, rate_limited)
    assert (bodies[1].status_code, bodies[1].json()) == (503, recorded(OVERLOADED))


def test_a_grounded_fake_answer_has_the_recorded_shape():
    grounded, recorded_body = answer("text", ["https://a.example/x"]), recorded(GROUNDED)
    for body in (grounded, recorded_body):
        candidate = body["candidates"][0]
        assert {"content", "finishReason", "groundingMetadata", "index"} <= candidate.keys()
        assert {"groundingChunks", "groundingSupports", "webSearchQueries"} <= candidate["groundingMetadata"].keys()
        assert candidate["groundingMetadata"]["groundingChunks"][0]["web"].keys() == {"uri", "title"}
        assert {"promptTokenCount", "candidatesTokenCount", "toolUsePromptTokenCount", "totalTokenCount"} <= body[
            "usageMetadata"
        ].keys()
    assert "groundingMetadata" not in answer("text")["candidates"][0]
    assert "toolUsePromptTokenCount" not in answer("text")["usageMetadata"]


def test_a_gemini_3_model_gets_a_thinking_level_and_no_temperature(gemini, gemini_server, clock):
    forecaster = Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run", clock=clock)
    outcome = forecaster.forecast(INDEX, STOCK)
    assert outcome.error is None
    [call] = gemini_server.calls
    assert call.model == "gemini-3.8-flash"
    assert call.thinking == {"thinkingLevel": "MEDIUM"}
    assert "temperature" not in call.generation_config
    params = json.loads(outcome.calls[0]["params"])
    assert (params["thinking_level"], params["temperature"], params["thinking_budget"]) == ("medium", None, None)


def test_the_basket_call_thinks_high_and_sends_no_temperature(gemini, gemini_server):
    gemini_server.respond = lambda call: answer(
        json.dumps({"stocks": [{"ticker": "ALPHA", "weight": 1}], "reason_summary": "One stock."})
    )
    pool = [Candidate("ALPHA", "IT", 5.0, 2, 1.0, [105.0], 100.0, 7, "Reasoning.", [])]
    choose(gemini, load_prompt("basket"), INDEX, pool, 1, lambda record: None)
    [call] = gemini_server.calls
    assert call.thinking == {"thinkingLevel": "HIGH"}
    assert "temperature" not in call.generation_config


def test_a_model_before_gemini_3_gets_the_temperature_and_thinking_budget_instead(gemini, gemini_server):
    gemini_server.respond = lambda call: answer("{}")
    prompt = load_prompt("extract_forecast", "gemini-2.5-flash")
    gemini.generate(prompt.model, "Stock: ALPHA. Last price: 100.", prompt.config())
    basket = load_prompt("basket", "gemini-2.5-flash")
    gemini.generate(basket.model, "Index: X", basket.config())
    extract_call, basket_call = gemini_server.calls
    assert extract_call.generation_config["temperature"] == 0.0 and not extract_call.thinking
    assert basket_call.generation_config["temperature"] == 0.2
    assert basket_call.thinking == {"thinkingBudget": 8192}


def test_gemini_model_still_overrides_every_prompt():
    for name in ("forecast", "extract_forecast", "basket"):
        assert load_prompt(name).model == "gemini-3.8-flash"
        assert load_prompt(name, "gemini-3.6-flash").model == "gemini-3.6-flash"
        assert load_prompt(name, "gemini-3.6-flash").settings()["temperature"] is None
