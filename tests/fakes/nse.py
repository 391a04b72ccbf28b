"""A fake of NSE's website API: pages that set session cookies, and JSON that demands them."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from niftybaskets.research.nse import (
    CORPORATE_ACTIONS,
    CORPORATE_ACTIONS_PAGE,
    EQUITY_HISTORY,
    EQUITY_HISTORY_PAGE,
    INDEX_HISTORY,
    INDEX_HISTORY_PAGE,
)

COOKIE = "nsit"
NSE_DAY = "%d-%m-%Y"


def quote_payload(symbol: str, last: float, previous_close: float, lower: str, upper: str) -> dict:
    """The parts of NSE's quote-equity answer the project reads, in NSE's own types (bands are strings)."""
    return {
        "info": {"symbol": symbol, "companyName": f"{symbol} Ltd", "isFNOSec": False},
        "priceInfo": {
            "lastPrice": last,
            "change": round(last - previous_close, 2),
            "previousClose": previous_close,
            "open": previous_close,
            "lowerCP": lower,
            "upperCP": upper,
            "pPriceBand": "20",
        },
    }


def index_row(symbol: str, last: float, industry: str = "Capital Goods", priority: int = 0) -> dict:
    """One row of NSE's equity-stockIndices answer, with the fields the project reads."""
    return {
        "priority": priority,
        "symbol": symbol,
        "open": last,
        "dayHigh": round(last * 1.02, 2),
        "dayLow": round(last * 0.98, 2),
        "lastPrice": last,
        "previousClose": round(last * 0.99, 2),
        "totalTradedVolume": 123456,
        "yearHigh": round(last * 1.5, 2),
        "yearLow": round(last * 0.7, 2),
        "perChange365d": 12.5,
        "perChange30d": -3.25,
        "meta": {"symbol": symbol, "companyName": f"{symbol} Limited", "industry": industry, "isin": "INE000000000"},
    }


def equity_row(symbol: str, day: date, open_: float, close: float, previous_close: float) -> dict:
    """One row of NSE's equity history answer, in NSE's field names and types."""
    return {
        "_id": f"{symbol}-{day}",
        "CH_SYMBOL": symbol,
        "CH_SERIES": "EQ",
        "CH_MARKET_TYPE": "N",
        "CH_TIMESTAMP": day.isoformat(),
        "TIMESTAMP": f"{day.isoformat()}T18:30:00.000Z",
        "CH_OPENING_PRICE": open_,
        "CH_TRADE_HIGH_PRICE": max(open_, close),
        "CH_TRADE_LOW_PRICE": min(open_, close),
        "CH_CLOSING_PRICE": close,
        "CH_LAST_TRADED_PRICE": close,
        "CH_PREVIOUS_CLS_PRICE": previous_close,
        "CH_TOT_TRADED_QTY": 100000,
        "CH_TOT_TRADED_VAL": 100000 * close,
    }


def index_history_row(index: str, day: date, open_: float, close: float) -> dict:
    """One row of NSE's index history answer (`indexCloseOnlineRecords`)."""
    return {
        "_id": f"{index}-{day}",
        "EOD_INDEX_NAME": index,
        "EOD_OPEN_INDEX_VAL": open_,
        "EOD_HIGH_INDEX_VAL": max(open_, close),
        "EOD_LOW_INDEX_VAL": min(open_, close),
        "EOD_CLOSE_INDEX_VAL": close,
        "EOD_TIMESTAMP": f"{day:%d-%b-%Y}".upper(),
        "TIMESTAMP": f"{day.isoformat()}T18:30:00.000Z",
    }


class FakeNse:
    def __init__(self) -> None:
        self.quotes: dict[str, dict] = {}
        self.indices: dict[str, list[dict]] = {}
        # Daily history: symbol -> day -> (open, close, NSE's previous close); index -> day -> (open, close).
        self.stock_history: dict[str, dict[date, tuple[float, float, float]]] = {}
        self.index_history: dict[str, dict[date, tuple[float, float]]] = {}
        self.actions: dict[str, list[tuple[str, str]]] = {}  # symbol -> (exDate as NSE writes it, subject)
        self.api_calls: list[str] = []
        self.history_calls: list[tuple[str, str, date, date]] = []  # (what, symbol, from, to)
        self.failing = False
        self.blocking_history = False  # 403 for history, as NSE answers clients it has blocked
        self.app = self._build()

    def _history_refused(self, request: Request) -> JSONResponse | None:
        if self.blocking_history:
            return JSONResponse({"message": "Access Denied"}, status_code=403)
        if request.cookies.get(COOKIE) != "session-cookie" or not request.headers.get("referer"):
            return JSONResponse({}, status_code=401)
        return None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/get-quotes/equity", response_class=HTMLResponse)
        async def quote_page() -> HTMLResponse:
            response = HTMLResponse("<html>quote page</html>")
            response.set_cookie(COOKIE, "session-cookie")
            return response

        @app.get(EQUITY_HISTORY_PAGE, response_class=HTMLResponse)
        @app.get(INDEX_HISTORY_PAGE, response_class=HTMLResponse)
        @app.get(CORPORATE_ACTIONS_PAGE, response_class=HTMLResponse)
        @app.get("/market-data/live-equity-market", response_class=HTMLResponse)
        async def index_page() -> HTMLResponse:
            response = HTMLResponse("<html>index page</html>")
            response.set_cookie(COOKIE, "session-cookie")
            return response

        @app.get("/api/equity-stockIndices")
        async def index(request: Request, index: str) -> JSONResponse:
            self.api_calls.append(index)
            if self.failing:
                return JSONResponse({"message": "Service Unavailable"}, status_code=503)
            if request.cookies.get(COOKIE) != "session-cookie" or not request.headers.get("referer"):
                return JSONResponse({}, status_code=401)
            rows = self.indices.get(index, [])
            head = {**index_row(index, 15000.0, "index", priority=1)}
            return JSONResponse({"name": index, "data": [head, *rows] if rows else []})

        @app.get("/api/quote-equity")
        async def quote_equity(request: Request, symbol: str) -> JSONResponse:
            self.api_calls.append(symbol)
            if self.failing:
                return JSONResponse({"message": "Service Unavailable"}, status_code=503)
            browser_like = "Mozilla" in request.headers.get("user-agent", "") and request.headers.get("referer")
            if request.cookies.get(COOKIE) != "session-cookie" or not browser_like:
                return JSONResponse({}, status_code=401)
            if symbol not in self.quotes:
                return JSONResponse({"error": "symbol not found"}, status_code=404)
            return JSONResponse(self.quotes[symbol])

        @app.get(EQUITY_HISTORY)
        async def equity_history(
            request: Request, symbol: str, series: str, from_: str = Query(alias="from"), to: str = Query()
        ) -> JSONResponse:
            refused = self._history_refused(request)
            if refused:
                return refused
            first, last = datetime.strptime(from_, NSE_DAY).date(), datetime.strptime(to, NSE_DAY).date()
            self.history_calls.append(("equity", symbol, first, last))
            days = self.stock_history.get(symbol, {})
            rows = [
                equity_row(symbol, day, *days[day])
                for day in sorted(days, reverse=True)  # NSE sends the newest first
                if first <= day <= last and series == '["EQ"]'
            ]
            return JSONResponse({"data": rows, "meta": {"series": ["EQ"], "fromDate": from_, "toDate": to}})

        @app.get(INDEX_HISTORY)
        async def index_history(
            request: Request, indexType: str, from_: str = Query(alias="from"), to: str = Query()
        ) -> JSONResponse:
            refused = self._history_refused(request)
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
            return JSONResponse({"data": {"indexCloseOnlineRecords": rows, "indexTurnoverRecords": []}})

        @app.get(CORPORATE_ACTIONS)
        async def corporate_actions(request: Request, index: str, symbol: str) -> JSONResponse:
            refused = self._history_refused(request)
            if refused:
                return refused
            self.history_calls.append(("actions", symbol, date.min, date.max))
            return JSONResponse(
                [
                    {"symbol": symbol, "series": "EQ", "subject": subject, "exDate": ex_date, "recDate": ex_date}
                    for ex_date, subject in self.actions.get(symbol, [])
                ]
            )

        return app
