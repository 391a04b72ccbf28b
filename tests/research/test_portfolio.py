"""From forecasts to a published basket: candidates, Gemini's pick, the files and docs/index.md."""

import json
import re

import pytest
from rich.console import Console

from niftybaskets.baskets import load_basket
from niftybaskets.cli.generate_portfolio import publish_basket
from niftybaskets.research.analyze import AnalyzeOptions, analyze
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.portfolio import PortfolioError, candidates
from niftybaskets.research.sources import SourceResolver
from niftybaskets.site.index_page import update_index
from tests.fakes.gemini import answer
from tests.research.conftest import INDEX, STOCKS, gain_of


def basket_answer(call, k=3, pick=None):
    tickers = re.findall(r"^([A-Z0-9]+) \|", call.prompt, re.MULTILINE)
    chosen = pick or tickers[:k]
    body = {
        "stocks": [{"ticker": t, "weight": 1 / len(chosen)} for t in chosen],
        "reason_summary": "Diversified across industries with the strongest forecasts.",
    }
    return answer(json.dumps(body))


@pytest.fixture
def forecasts(store, nse, gemini, gemini_server, clock, console_sink):
    """Two forced passes over the index; the second pass's targets are 2% higher for GAMMA."""
    forecaster = Forecaster(gemini, SourceResolver(timeout=5, schemes=("http", "https")), "run", clock=clock)
    analyze(store, nse.client, gemini, forecaster, AnalyzeOptions(index=INDEX), console_sink.print, clock)
    respond = gemini_server.respond

    def second_pass(call):
        reply = respond(call)
        if "NSE: GAMMA" in call.prompt:
            body = json.loads(reply["candidates"][0]["content"]["parts"][0]["text"])
            body["target_price"] = round(body["target_price"] * 1.02, 2)
            reply["candidates"][0]["content"]["parts"][0]["text"] = json.dumps(body)
        return reply

    gemini_server.respond = second_pass
    clock.advance(minutes=30)
    analyze(
        store, nse.client, gemini, forecaster, AnalyzeOptions(index=INDEX, force_llm=True), console_sink.print, clock
    )
    gemini_server.respond = lambda call: basket_answer(call) if call.prompt.startswith("Index:") else second_pass(call)
    return store


@pytest.fixture
def console_sink():
    return Console(quiet=True)


def test_candidates_are_ranked_by_average_gain_with_the_spread_of_targets(forecasts, clock):
    pool = candidates(forecasts.forecasts(INDEX, "2000-01-01"), {}, 4)
    assert [c.symbol for c in pool] == sorted(STOCKS, key=lambda s: (-gain_of(s) - (1 if s == "GAMMA" else 0), s))[:4]
    gamma = next(c for c in candidates(forecasts.forecasts(INDEX, "2000-01-01"), {}, 5) if c.symbol == "GAMMA")
    assert gamma.passes == 2 and gamma.spread == pytest.approx(2 / 1.01, rel=1e-3)
    assert gamma.gain == pytest.approx(
        (gain_of("GAMMA") + ((1 + gain_of("GAMMA") / 100) * 1.02 - 1) * 100) / 2, rel=1e-3
    )


def test_a_basket_is_published_for_people_and_for_the_rebalancer(forecasts, gemini, tmp_path, clock, web):
    docs = tmp_path / "docs"
    published = publish_basket(forecasts, gemini, docs, INDEX, 4, 3, 7, clock)
    assert published.stem == f"{INDEX}__Nov_22_2026_09_30__N4_K3"
    basket = load_basket(docs / "baskets" / f"{published.stem}.json")
    assert len(basket.weights) == 3 and sum(basket.weights.values()) == pytest.approx(1)
    data = json.loads((docs / "baskets" / f"{published.stem}.json").read_text())
    assert data["stocks_ticker_candidates"] == [c for c in data["stocks_ticker_candidates"]][:4]
    assert data["stocks"][0]["sources"] == [f"{web}/article/{data['stocks'][0]['stock_ticker']}"]
    assert data["expected_gain_percent"] > 0
    page = (docs / "baskets" / f"{published.stem}.md").read_text()
    assert "Generated on: 2026-11-22 09:30:00 IST" in page
    assert f"[{web.split('//')[1]}]({web}/article/" in page
    audit = json.loads((docs / "baskets" / "forecasts" / f"{published.stem}.json").read_text())
    assert len(audit["forecasts"]) == 4 and sum(f["chosen"] for f in audit["forecasts"]) == 3
    index = (docs / "index.md").read_text()
    assert "](baskets/NIFTY%20TEST%205__Nov_22_2026_09_30__N4_K3)" in index and ".md)" not in index


def test_a_ticker_outside_the_candidates_gets_one_retry_with_the_problem(
    forecasts, gemini, gemini_server, tmp_path, clock
):
    answers = iter([["NOTACANDIDATE", "ALPHA", "BETA"], None])
    forecast = gemini_server.respond
    basket_calls = []

    def respond(call):
        if not call.prompt.startswith("Index:"):
            return forecast(call)
        basket_calls.append(call.prompt)
        return basket_answer(call, pick=next(answers))

    gemini_server.respond = respond
    publish_basket(forecasts, gemini, tmp_path / "docs", INDEX, 5, 3, 7, clock)
    assert "NOTACANDIDATE is not one of the candidates" in basket_calls[1]


def test_two_invalid_answers_publish_nothing(forecasts, gemini, gemini_server, tmp_path, clock):
    forecast = gemini_server.respond
    gemini_server.respond = lambda call: (
        basket_answer(call, pick=["ALPHA", "ALPHA", "BETA"]) if call.prompt.startswith("Index:") else forecast(call)
    )
    with pytest.raises(PortfolioError, match="invalid twice"):
        publish_basket(forecasts, gemini, tmp_path / "docs", INDEX, 5, 3, 7, clock)
    assert not (tmp_path / "docs").exists()


def test_no_recent_forecasts_says_to_analyze_first(store, gemini, tmp_path, clock):
    with pytest.raises(PortfolioError, match=r"analyze_stocks\.py"):
        publish_basket(store, gemini, tmp_path / "docs", INDEX, 5, 3, 7, clock)


def test_the_index_page_keeps_the_latest_per_index_and_a_history_and_is_idempotent(forecasts, gemini, tmp_path, clock):
    docs = tmp_path / "docs"
    first = publish_basket(forecasts, gemini, docs, INDEX, 4, 3, 7, clock)
    clock.advance(hours=1)
    second = publish_basket(forecasts, gemini, docs, INDEX, 5, 3, 7, clock)
    (docs / "baskets" / "NIFTY 50__Jun_16_2025_08_06__N20_K5.json").write_text('{"weights": {"A": 1}}')
    text = update_index(docs).read_text()
    assert update_index(docs).read_text() == text
    latest, history = text.split("## History")
    assert second.page in latest and "NIFTY%2050__Jun_16_2025_08_06__N20_K5" in latest
    assert first.page in history and first.page not in latest
    assert text.count(first.page) == 1


def test_a_published_basket_is_never_replaced_and_its_weights_add_to_one(forecasts, gemini, tmp_path, clock):
    docs = tmp_path / "docs"
    published = publish_basket(forecasts, gemini, docs, INDEX, 4, 3, 7, clock)
    basket = load_basket(docs / "baskets" / f"{published.stem}.json")
    assert basket.warnings == []  # thirds, rounded, still add up to exactly 1
    with pytest.raises(PortfolioError, match="published already"):
        publish_basket(forecasts, gemini, docs, INDEX, 4, 3, 7, clock)
