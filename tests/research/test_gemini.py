"""The Gemini key pool through the real google-genai SDK against a fake Gemini."""

import logging

import pytest
from google.genai import types

from niftybaskets.research.gemini import Gemini, GeminiError, GeminiRejected


def config():
    return types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])


def ask(gemini):
    return gemini.generate("gemini-3-flash-preview", "Research the stock (NSE: ALPHA)", config())


def test_calls_are_spread_evenly_over_the_keys(gemini, gemini_server):
    replies = [ask(gemini) for _ in range(6)]
    assert [reply.key_index for reply in replies] == [0, 1, 0, 1, 0, 1]
    assert gemini_server.calls_per_key() == {"key-one": 3, "key-two": 3}
    # Grounded: the prompt (120) and the search results read (toolUsePromptTokenCount, 40) are input.
    assert replies[0].sources and replies[0].input_tokens == 160 and replies[0].output_tokens == 80


def test_a_429_rests_the_key_and_the_other_key_serves_the_retry(gemini, gemini_server, pauses):
    gemini_server.fail("key-one", 429)
    reply = ask(gemini)
    assert reply.key_index == 1
    assert [(c.key, c.status) for c in gemini_server.calls] == [("key-one", 429), ("key-two", 200)]
    assert gemini.pool.rate_limited == [1, 0]
    assert ask(gemini).key_index == 1  # key one still rests (RetryInfo: 1 s)
    pauses.now += 1.0
    assert ask(gemini).key_index == 0


def test_when_every_key_rests_the_call_waits_for_the_first_back(gemini, gemini_server, pauses):
    gemini_server.retry_delay = 7
    gemini_server.fail("key-one", 429)
    gemini_server.fail("key-two", 429)
    reply = ask(gemini)
    assert reply.key_index == 0
    assert pauses.slept == [7.0]


def test_server_trouble_is_retried_with_a_doubling_pause(gemini, gemini_server, pauses):
    gemini_server.fail("key-one", 503, 500)
    gemini_server.fail("key-two", 503)
    reply = ask(gemini)
    assert reply.text
    assert pauses.slept == [1.0, 2.0, 4.0]


def test_after_about_five_minutes_of_trouble_it_gives_up(gemini_server, pauses):
    gemini = Gemini(["only-key"], gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)
    gemini_server.fail("only-key", *[503] * 20)
    with pytest.raises(GeminiError, match="kept failing"):
        ask(gemini)
    assert sum(pauses.slept) == pytest.approx(300)
    assert pauses.slept[:4] == [1.0, 2.0, 4.0, 8.0]


def test_a_refusal_is_not_retried(gemini, gemini_server):
    gemini_server.fail("key-one", 400)
    with pytest.raises(GeminiRejected, match="400"):
        ask(gemini)
    assert len(gemini_server.calls) == 1


def test_keys_never_reach_the_logs(gemini, gemini_server, caplog):
    gemini_server.fail("key-one", 429, 503)
    with caplog.at_level(logging.DEBUG):
        ask(gemini)
    assert "key-one" not in caplog.text and "key-two" not in caplog.text
    assert "key #1 is rate-limited" in caplog.text


def test_network_timeouts_are_retried_then_reported_not_raised_raw(gemini_server, pauses):
    gemini_server.latency = 1.0
    gemini = Gemini(
        ["key-one"], gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep, patience=3, timeout_seconds=0.2
    )
    with pytest.raises(GeminiError, match=r"kept failing .*Timeout"):
        ask(gemini)
    assert pauses.slept == [1.0, 2.0]


def test_a_refused_key_is_benched_named_by_number_and_the_call_moves_on(gemini, gemini_server, caplog):
    from tests.fakes.gemini import error

    respond = gemini_server.respond

    def suspended(call):
        if call.key == "key-one":
            return error(403, "Permission denied: Consumer 'api_key:key-one' has been suspended.")
        return respond(call)

    gemini_server.respond = suspended
    with caplog.at_level(logging.INFO):
        replies = [ask(gemini) for _ in range(3)]
    assert [reply.key_index for reply in replies] == [1, 1, 1]
    assert len([c for c in gemini_server.calls if c.key == "key-one"]) == 1
    assert "key-one" not in caplog.text and "refused key #1" in caplog.text


def test_every_key_refused_is_a_clear_error(gemini, gemini_server):
    gemini_server.fail("key-one", 401)
    gemini_server.fail("key-two", 403)
    with pytest.raises(GeminiError, match="no usable Gemini key"):
        ask(gemini)


def test_endless_rate_limits_end_with_a_message_not_a_loop(gemini, gemini_server, pauses):
    gemini_server.retry_delay = 0
    gemini_server.fail("key-one", *[429] * 2000)
    gemini_server.fail("key-two", *[429] * 2000)
    with pytest.raises(GeminiError, match="quota is used up"):
        ask(gemini)
    # Asked to retry at once, a key still rests, longer each time: a few dozen calls, not thousands.
    assert len(gemini_server.calls) < 40
