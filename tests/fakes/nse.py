"""A fake of NSE's website API as it answers in 2026: pages that set session cookies, JSON that
demands them, today's routes, and the old routes answering as NSE answers them now.

Every answer is built from a recorded real one (tests/fixtures/recorded/nse/, provenance there):
the recording is the template, and only the values change. Where no recording stands behind an
answer, a comment says so.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from niftybaskets.market import IST
from niftybaskets.marketdata.nse import (
    CORPORATE_ACTIONS,
    CORPORATE_ACTIONS_PAGE,
    EQUITY_HISTORY,
    EQUITY_HISTORY_PAGE,
    INDEX_CONSTITUENTS,
    INDEX_HISTORY,
    INDEX_HISTORY_PAGE,
    INDEX_PAGE,
    OLD_QUOTE,
    QUOTE,
    QUOTE_PAGE,
)

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "nse"
COOKIE = "nsit"
NSE_DAY = "%d-%m-%Y"


def recorded(name: str) -> object:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


LIST_ANSWER = recorded("equity_stock_indices_nifty50_2026-05-27_index_row_only.json")
OLD_LIST_ANSWER = recorded("equity_stockIndices_nifty50_2025-01-01_oldroute_truncated.json")
QUOTE_ANSWER = recorded("getquoteapi_getsymboldata_ETERNAL.json")
EQUITY_ROWS = recorded("generateSecurityWiseHistoricalData_SBIN_2024-08-19_T0_and_EQ.json")["data"]
INDEX_HISTORY_ROW = recorded("historicalOR_indicesHistory_niftybank_data_rows.json")[0]
ACTION_ROW = recorded("corporate_actions_GENSOL.json")[0]
ACCESS_DENIED = (RECORDED / "quote_equity_403_access_denied.html").read_text(encoding="utf-8")


def utc_instant(day: date) -> str:
    """How NSE stamps a session in its history: the UTC instant of the IST midnight starting it."""
    return datetime.combine(day, time(), IST).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def quote_payload(symbol: str, last: float, previous_close: float, lower: str, upper: str) -> dict:
    """NSE's getSymbolData answer for a stock (the recorded ETERNAL answer, other values); the band
    is a string "lower-upper", as NSE writes it."""
    answer = copy.deepcopy(QUOTE_ANSWER)
    entry = answer["equityResponse"][0]
    entry["orderBook"]["lastPrice"] = last
    entry["tradeInfo"]["lastPrice"] = last
    meta = entry["metaData"]
    meta.update(
        identifier=f"{symbol}EQN",
        companyName=f"{symbol} LIMITED",
        symbol=symbol,
        previousClose=previous_close,
        basePrice=previous_close,
        change=round(last - previous_close, 2),
        closePrice=0,  # NSE's closePrice is 0 until the close
    )
    entry["priceInfo"]["priceBand"] = f"{lower}-{upper}"
    return answer


def index_row(symbol: str, last: float, industry: str = "Capital Goods", priority: int = 0) -> dict:
    """A stock's row of NSE's index list. No recording of the 2026 route kept a stock row (only the
    index's own row), so this is the recorded stock row of the route before it (MARUTI, 2025)."""
    row = copy.deepcopy(OLD_LIST_ANSWER["data"][1])
    row.update(
        priority=priority,
        symbol=symbol,
        identifier=f"{symbol}EQN",
        open=last,
        dayHigh=round(last * 1.02, 2),
        dayLow=round(last * 0.98, 2),
        lastPrice=last,
        previousClose=round(last * 0.99, 2),
        totalTradedVolume=123456,
        yearHigh=round(last * 1.5, 2),
        yearLow=round(last * 0.7, 2),
        perChange365d=12.5,
        perChange30d=-3.25,
    )
    row["meta"] = {**row["meta"], "symbol": symbol, "companyName": f"{symbol} Limited", "industry": industry}
    return row


def equity_rows(symbol: str, day: date, open_: float, close: float, previous_close: float) -> list[dict]:
    """A session's rows of the historicalOR equity answer (the recorded SBIN rows, other values): the
    EQ row and, as NSE sends beside it, a T0 (same-day settlement) row with its own prices."""
    rows = []
    for template in EQUITY_ROWS:
        row = copy.deepcopy(template)
        t0 = row["CH_SERIES"] == "T0"
        row.update(
            CH_SYMBOL=symbol,
            mTIMESTAMP=f"{day:%d-%b-%Y}",
            CH_TIMESTAMP=utc_instant(day),
            CH_OPENING_PRICE=round(open_ * 1.01, 2) if t0 else open_,
            CH_CLOSING_PRICE=round(close * 1.01, 2) if t0 else close,
            CH_PREVIOUS_CLS_PRICE=previous_close,
        )
        rows.append(row)
    return rows


def index_history_row(index: str, day: date, open_: float, close: float) -> dict:
    """One row of the historicalOR index history (the recorded NIFTY BANK row, other values)."""
    return {
        **INDEX_HISTORY_ROW,
        "EOD_INDEX_NAME": index,
        "EOD_OPEN_INDEX_VAL": open_,
        "EOD_HIGH_INDEX_VAL": max(open_, close),
        "EOD_LOW_INDEX_VAL": min(open_, close),
        "EOD_CLOSE_INDEX_VAL": close,
        "EOD_TIMESTAMP": f"{day:%d-%b-%Y}".upper(),
        "HI_TIMESTAMP": utc_instant(day).replace(".000Z", ".000+00:00"),
    }


class FakeNse:
    def __init__(self) -> None:
        self.quotes: dict[str, dict] = {}
        self.indices: dict[str, list[dict]] = {}
        # Daily history: symbol -> day -> (open, close, NSE's previous close); index -> day -> (open, close).
        self.stock_history: dict[str, dict[date, tuple[float, float, float]]] = {}
        self.index_history: dict[str, dict[date, tuple[float, float]]] = {}
        self.actions: dict[str, list[tuple[str, str]]] = {}  # symbol -> (exDate as NSE writes it, subject)
        # Raw answers served as they are, by path: (status, body, media type).
        self.recordings: dict[str, tuple[int, str, str]] = {}
        self.api_calls: list[str] = []
        self.history_calls: list[tuple[str, str, date, date]] = []  # (what, symbol, from, to)
        self.failing = False  # 503 for the index list and quotes
        self.blocking_history = False  # Akamai's 403 for history, as NSE answers clients it has blocked
        self.app = self._build()

    def _refused(self, request: Request, blocked: bool = False) -> Response | None:
        if blocked:
            return HTMLResponse(ACCESS_DENIED, status_code=403)
        browser_like = "Mozilla" in request.headers.get("user-agent", "") and request.headers.get("referer")
        if request.cookies.get(COOKIE) != "session-cookie" or not browser_like:
            # NSE answers a client without its cookies 401; no body of it was recorded.
            return JSONResponse({}, status_code=401)
        return None

    def _recorded(self, path: str) -> Response | None:
        if path not in self.recordings:
            return None
        status, body, media_type = self.recordings[path]
        return Response(body, status_code=status, media_type=media_type)

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get(QUOTE_PAGE, response_class=HTMLResponse)
        @app.get(EQUITY_HISTORY_PAGE, response_class=HTMLResponse)
        @app.get(INDEX_HISTORY_PAGE, response_class=HTMLResponse)
        @app.get(CORPORATE_ACTIONS_PAGE, response_class=HTMLResponse)
        @app.get(INDEX_PAGE, response_class=HTMLResponse)
        async def page() -> HTMLResponse:
            response = HTMLResponse("<html>page</html>")
            response.set_cookie(COOKIE, "session-cookie")
            return response

        @app.get(INDEX_CONSTITUENTS[0])
        async def index_list(request: Request, index: str) -> Response:
            self.api_calls.append(index)
            if self.failing:
                # No 503 body of NSE's was recorded.
                return JSONResponse({"message": "Service Unavailable"}, status_code=503)
            refused = self._recorded(INDEX_CONSTITUENTS[0]) or self._refused(request)
            if refused:
                return refused
            rows = self.indices.get(index, [])
            answer = copy.deepcopy(LIST_ANSWER)
            head = {**answer["data"][0], "symbol": index, "identifier": index}
            answer["data"] = [head, *rows] if rows else []
            return JSONResponse(answer)

        @app.get(QUOTE)
        async def quote(request: Request, functionName: str, symbol: str) -> Response:
            self.api_calls.append(symbol)
            if self.failing:
                return JSONResponse({"message": "Service Unavailable"}, status_code=503)
            refused = self._recorded(QUOTE) or self._refused(request)
            if refused:
                return refused
            if functionName != "getSymbolData" or symbol not in self.quotes:
                # What NSE answers for a symbol it does not list was not recorded.
                return JSONResponse({"equityResponse": []})
            return JSONResponse(self.quotes[symbol])

        @app.get(INDEX_CONSTITUENTS[1])
        @app.get(INDEX_HISTORY[1])
        async def moved(request: Request) -> Response:
            # The old routes answer 404 since NSE moved them (NseIndiaApi #27 reports the status; no
            # body was recorded).
            return self._recorded(request.url.path) or PlainTextResponse("Not Found", status_code=404)

        @app.get(OLD_QUOTE)
        async def old_quote() -> Response:
            return self._recorded(OLD_QUOTE) or HTMLResponse(ACCESS_DENIED, status_code=403)  # nsepython #76

        @app.get(EQUITY_HISTORY[1])
        async def old_equity_history() -> Response:
            # A 2026 source reports 503 here; no body was recorded.
            return self._recorded(EQUITY_HISTORY[1]) or JSONResponse({"message": "Unavailable"}, status_code=503)

        @app.get(EQUITY_HISTORY[0])
        async def equity_history(
            request: Request, symbol: str, series: str, from_: str = Query(alias="from"), to: str = Query()
        ) -> Response:
            refused = self._recorded(EQUITY_HISTORY[0]) or self._refused(request, self.blocking_history)
            if refused:
                return refused
            first, last = datetime.strptime(from_, NSE_DAY).date(), datetime.strptime(to, NSE_DAY).date()
            self.history_calls.append(("equity", symbol, first, last))
            days = self.stock_history.get(symbol, {})
            rows = [
                row
                for day in sorted(days, reverse=True)  # NSE sends the newest first
                if first <= day <= last
                for row in equity_rows(symbol, day, *days[day])
            ]
            return JSONResponse({"data": rows})

        @app.get(INDEX_HISTORY[0])
        async def index_history(
            request: Request, indexType: str, from_: str = Query(alias="from"), to: str = Query()
        ) -> Response:
            refused = self._recorded(INDEX_HISTORY[0]) or self._refused(request, self.blocking_history)
            if refused:
                return refused
            first, last = datetime.strptime(from_, NSE_DAY).date(), datetime.strptime(to, NSE_DAY).date()
            self.history_calls.append(("index", indexType, first, last))
            days = self.index_history.get(indexType, {})
            rows = [
                index_history_row(indexType, day, *days[day])
                for day in sorted(days, reverse=True)
                if first <= day <= last
            ]
            return JSONResponse({"data": rows})

        @app.get(CORPORATE_ACTIONS)
        async def corporate_actions(request: Request, index: str, symbol: str) -> Response:
            refused = self._recorded(CORPORATE_ACTIONS) or self._refused(request, self.blocking_history)
            if refused:
                return refused
            self.history_calls.append(("actions", symbol, date.min, date.max))
            return JSONResponse(
                [
                    {**ACTION_ROW, "symbol": symbol, "subject": subject, "exDate": ex_date, "recDate": ex_date}
                    for ex_date, subject in self.actions.get(symbol, [])
                ]
            )

        return app
