"""The research world: a fake NSE, a fake Gemini (for the real google-genai SDK) and a fake web."""

from __future__ import annotations

import json
import re
import zlib
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

from niftybaskets.market import IST
from niftybaskets.marketdata.chain import MarketData
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.research.gemini import Gemini
from niftybaskets.store import ResearchStore
from niftybaskets.webserver import BackgroundServer
from tests.fakes.clock import FakeClock
from tests.fakes.gemini import Call, FakeGemini, answer
from tests.fakes.nse import FakeNse, index_row

INDEX = "NIFTY TEST 5"
STOCKS = {"ALPHA": 100.0, "BETA": 250.0, "GAMMA": 1200.0, "DELTA": 40.0, "EPSILON": 3000.0}
INDUSTRIES = {"ALPHA": "IT", "BETA": "Banks", "GAMMA": "Pharma", "DELTA": "Metals", "EPSILON": "Auto"}


def gain_of(ticker: str) -> float:
    """A fixed expected gain per ticker, from -4% to +14%."""
    return float(zlib.crc32(ticker.encode()) % 19 - 4)


def reasoning(ticker: str) -> str:
    return f"{ticker} reported steady results and the sector outlook is stable. " + "Analysts see room to grow. " * 12


def fake_web_app() -> FastAPI:
    app = FastAPI()

    @app.get("/redirect/{name}")
    async def redirect(name: str) -> RedirectResponse:
        return RedirectResponse(f"/article/{name}", status_code=302)

    @app.get("/article/{name}", response_class=HTMLResponse)
    async def article(name: str) -> HTMLResponse:
        return HTMLResponse(f"<html>{name}</html>")

    @app.get("/gone")
    async def gone() -> HTMLResponse:
        return HTMLResponse("gone", status_code=404)

    return app


@pytest.fixture
def web():
    with BackgroundServer(fake_web_app()) as server:
        yield server.url


def forecast_responder(web_url: str):
    """Answers like a well-behaved Gemini: research prose when asked to search without a schema,
    else the forecast's JSON; grounding points at the fake web (one live page, one dead)."""

    def respond(call: Call) -> dict:
        ticker = re.search(r"(?:NSE: |Stock: )([A-Z0-9]+)", call.prompt).group(1)
        if call.prompt.startswith("Index:"):
            raise AssertionError("the basket prompt reached the forecast responder")
        sources = [f"{web_url}/redirect/{ticker}", f"{web_url}/gone", f"{web_url}/redirect/{ticker}"]
        if call.grounded and not call.schema:
            return answer(f"Research note on {ticker}: {reasoning(ticker)}", sources if call.grounded else [])
        last = float(re.search(r"[Ll]ast price:? ([\d.]+)", call.prompt).group(1))
        gain = gain_of(ticker)
        body = {
            "horizon_days": 7,
            "target_price": round(last * (1 + gain / 100), 2),
            "expected_gain_percent": gain,
            "reasoning": reasoning(ticker),
            "sources": ["https://typed-by-the-model.example/not-a-real-page"],
        }
        return answer(json.dumps(body), sources if call.grounded else [])

    return respond


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 11, 22, 9, 0, tzinfo=IST))


@pytest.fixture
def nse():
    fake = FakeNse()
    fake.indices[INDEX] = [index_row(symbol, price, INDUSTRIES[symbol]) for symbol, price in STOCKS.items()]
    with BackgroundServer(fake.app) as server:
        fake.url = server.url
        fake.client = MarketData([NseClient(server.url)])
        yield fake


@pytest.fixture
def gemini_server(web):
    fake = FakeGemini(forecast_responder(web))
    with BackgroundServer(fake.app) as server:
        fake.url = server.url
        yield fake


class Pauses:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def pauses():
    return Pauses()


@pytest.fixture
def gemini(gemini_server, pauses):
    return Gemini(["key-one", "key-two"], gemini_server.url, monotonic=pauses.monotonic, sleep=pauses.sleep)


@pytest.fixture
def store(tmp_path):
    store = ResearchStore(tmp_path / "store.sqlite")
    yield store
    store.close()
