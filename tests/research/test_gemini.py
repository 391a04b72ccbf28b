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
    assert replies[0].sources and replies[0].input_tokens == 120 and replies[0].output_tokens == 80


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
