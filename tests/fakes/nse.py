"""A fake of NSE's website API: pages that set session cookies, and JSON that demands them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

COOKIE = "nsit"


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


class FakeNse:
    def __init__(self) -> None:
        self.quotes: dict[str, dict] = {}
        self.indices: dict[str, list[dict]] = {}
        self.api_calls: list[str] = []
        self.failing = False
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/get-quotes/equity", response_class=HTMLResponse)
        async def quote_page() -> HTMLResponse:
            response = HTMLResponse("<html>quote page</html>")
            response.set_cookie(COOKIE, "session-cookie")
            return response

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

        return app
