"""A fake of Yahoo Finance's chart API (`/v8/finance/chart/{ticker}`), built on recorded answers
(tests/fixtures/recorded/yahoo/, provenance there): the recorded WSKT.JK answer is the template of
every chart, its meta set to an NSE stock's as Yahoo describes NSE (INR, NSI, Asia/Kolkata); the
recorded 404 answers an unknown ticker."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from niftybaskets.market import IST

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "yahoo"
CHART_ANSWER = json.loads((RECORDED / "chart_WSKT.JK_1d_2020-01-02_asia_jakarta.json").read_text(encoding="utf-8"))
NOT_FOUND = (RECORDED / "chart_SIX_404_not_found.json").read_text(encoding="utf-8")
# Recorded from Yahoo's crumb route, not the chart route (no chart 429 body was recorded).
TOO_MANY = (RECORDED / "getcrumb_429_body_too_many_requests_crlf.txt").read_text(encoding="utf-8")
SESSION_OPEN = dt_time(9, 15)  # a daily bar is stamped with the session's opening time


def session_stamp(day: date) -> int:
    return int(datetime.combine(day, SESSION_OPEN, IST).astimezone(UTC).timestamp())


class FakeYahoo:
    def __init__(self) -> None:
        # ticker -> day -> (open, close), as Yahoo sends them (adjusted for splits and bonuses).
        self.history: dict[str, dict[date, tuple[float, float]]] = {}
        self.last_prices: dict[str, tuple[float, float]] = {}  # ticker -> (regularMarketPrice, previous close)
        self.calls: list[tuple[str, dict]] = []
        self.recordings: dict[str, str] = {}  # ticker -> a recorded chart answer, served as it is
        self.limited = False
        self.market_time: float | None = None  # regularMarketTime of every chart; None: now
        self.app = self._build()

    def chart(self, name: str, params: dict) -> dict:
        answer = copy.deepcopy(CHART_ANSWER)
        result = answer["chart"]["result"][0]
        days = self.history.get(name, {})
        if "period1" in params:
            first = datetime.fromtimestamp(int(params["period1"]), UTC)
            last = datetime.fromtimestamp(int(params["period2"]), UTC)
            shown = [day for day in sorted(days) if first.timestamp() <= session_stamp(day) < last.timestamp()]
        else:
            shown = sorted(days)[-1:]
        price, previous = self.last_prices[name] if name in self.last_prices else (days[max(days)][1], None)
        result["meta"].update(
            currency="INR",
            symbol=name,
            exchangeName="NSI",
            fullExchangeName="NSE",
            instrumentType="EQUITY",
            gmtoffset=19800,
            timezone="IST",
            exchangeTimezoneName="Asia/Kolkata",
            regularMarketPrice=price,
            regularMarketTime=int(self.market_time or time.time()),
            chartPreviousClose=previous,
            longName=name,
            shortName=name,
        )
        result["timestamp"] = [session_stamp(day) for day in shown]
        quote = result["indicators"]["quote"][0]
        quote["open"] = [days[day][0] for day in shown]
        quote["close"] = [days[day][1] for day in shown]
        quote["high"] = [max(days[day]) for day in shown]
        quote["low"] = [min(days[day]) for day in shown]
        quote["volume"] = [100000 for _ in shown]
        result["indicators"]["adjclose"] = [{"adjclose": quote["close"]}]
        if not shown:
            del result["timestamp"]  # Yahoo leaves the key out for a range without sessions
        return answer

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v8/finance/chart/{name}")
        async def chart(name: str, period1: str | None = None, period2: str | None = None) -> Response:
            params = {key: value for key, value in (("period1", period1), ("period2", period2)) if value}
            self.calls.append((name, params))
            if self.limited:
                return PlainTextResponse(TOO_MANY, status_code=429)
            if name in self.recordings:
                return Response(self.recordings[name], media_type="application/json")
            if name not in self.history and name not in self.last_prices:
                return Response(NOT_FOUND, status_code=404, media_type="application/json")
            return JSONResponse(self.chart(name, params))

        return app
