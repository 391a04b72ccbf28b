"""The paper exchange's HTTP face: Kite Connect v3 routes, envelopes and status codes.

Every answer is `{"status": "success", "data": ...}` or Kite's error envelope; no request, however
malformed, gets a traceback. `/admin/*` (loopback only) moves prices, arms faults, authorises
holdings and ends sessions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from niftybaskets.paper.account_file import Fault
from niftybaskets.paper.errors import ERROR_TYPE_BY_STATUS, KiteError, input_error
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.orders import MAX_PRICE, MAX_SYMBOL_LENGTH, SYMBOL

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# The admin bodies are a few levels deep; json.loads recurses once per level, so deeper nesting is
# refused before parsing (100,000 levels would end in RecursionError, a 500 and a traceback).
MAX_JSON_DEPTH = 20
MAX_JSON_BYTES = 1_000_000


def success(data: object) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error_response(error: KiteError) -> JSONResponse:
    return JSONResponse(error.envelope(), status_code=error.status)


async def read_form(request: Request) -> dict[str, str]:
    """Kite's write endpoints take form fields; anything else is a clear InputException."""
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise input_error(
            f"Send the parameters as form fields (application/x-www-form-urlencoded), not {content_type}."
        )
    try:
        form = await request.form()
    except Exception:  # the form parsers raise several types on a broken body
        raise input_error("The request body is not a readable form.") from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` in `text`, brackets inside strings aside.

    A linear scan without recursion: it stops at the first level beyond the limit.
    """
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json(body: bytes) -> object:
    """A JSON body, or an InputException: not JSON, too large, or nested deeper than MAX_JSON_DEPTH."""
    if len(body) > MAX_JSON_BYTES:
        raise input_error(f"The request body is too large: at most {MAX_JSON_BYTES:,} bytes.")
    try:
        text = (body or b"null").decode("utf-8")
    except UnicodeDecodeError:
        raise input_error("The request body is not valid JSON (not UTF-8).") from None
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise input_error(f"The request body nests too deep: at most {MAX_JSON_DEPTH} levels of arrays and objects.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise input_error("The request body is not valid JSON.") from None


async def read_json(request: Request) -> object:
    return parse_json(await request.body())


def create_app(exchange: PaperExchange) -> FastAPI:
    app = FastAPI(title="niftybaskets paper exchange", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(KiteError)
    async def kite_error(_: Request, error: KiteError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Route not found.", 405: "Method not allowed on this route."}
        message = messages.get(error.status_code, str(error.detail))
        return error_response(KiteError(error.status_code, "GeneralException", message))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(input_error(f"Invalid request: {error.errors()[0].get('msg', 'bad input')}."))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("paper exchange failed on a request")
        return error_response(KiteError(500, "GeneralException", f"The paper exchange failed: {type(error).__name__}."))

    @app.middleware("http")
    async def injected_faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        fault = exchange.faults.take(request.method, request.url.path)
        if fault is None:
            return await call_next(request)
        if fault.when == "after":
            await call_next(request)
        await asyncio.sleep(fault.delay)
        error_type = ERROR_TYPE_BY_STATUS.get(fault.status, "GeneralException")
        return error_response(KiteError(fault.status, error_type, f"Injected fault: HTTP {fault.status}."))

    def user(request: Request, bucket: str = "api") -> str:
        return exchange.authenticate(request.headers.get("authorization"), bucket)

    # -- login ------------------------------------------------------------------------------

    @app.get("/connect/login")
    async def connect_login(request: Request) -> RedirectResponse:
        params = request.query_params
        url = exchange.login_redirect(params.get("api_key", ""), params.get("redirect_params"), params.get("user_id"))
        return RedirectResponse(url, status_code=302)

    @app.post("/session/token")
    async def session_token(request: Request) -> JSONResponse:
        form = await read_form(request)
        missing = [name for name in ("api_key", "request_token", "checksum") if not form.get(name)]
        if missing:
            raise input_error(f"Missing {', '.join(f'`{name}`' for name in missing)}.")
        return success(exchange.create_session(form["api_key"], form["request_token"], form["checksum"]))

    @app.delete("/session/token")
    async def session_logout(request: Request) -> JSONResponse:
        params = request.query_params
        missing = [name for name in ("api_key", "access_token") if not params.get(name)]
        if missing:
            raise input_error(f"Missing {', '.join(f'`{name}`' for name in missing)}.")
        return success(exchange.invalidate_session(params["api_key"], params["access_token"]))

    # -- user and portfolio -----------------------------------------------------------------

    @app.get("/user/profile")
    async def profile(request: Request) -> JSONResponse:
        return success(exchange.profile(user(request)))

    @app.get("/user/margins")
    async def margins(request: Request) -> JSONResponse:
        return success(exchange.margins(user(request)))

    @app.get("/user/margins/{segment}")
    async def segment_margins(request: Request, segment: str) -> JSONResponse:
        return success(exchange.margins(user(request), segment))

    @app.get("/portfolio/holdings")
    async def holdings(request: Request) -> JSONResponse:
        return success(exchange.holdings(user(request)))

    @app.get("/portfolio/positions")
    async def positions(request: Request) -> JSONResponse:
        return success(exchange.positions(user(request)))

    # -- market data ------------------------------------------------------------------------

    def quote_route(mode: str):
        async def handler(request: Request) -> JSONResponse:
            user(request, "quote")
            # In a worker thread: with live prices, an unknown symbol is fetched from NSE first.
            return success(await run_in_threadpool(exchange.quote, request.query_params.getlist("i"), mode))

        return handler

    app.get("/quote")(quote_route("quote"))
    app.get("/quote/ltp")(quote_route("ltp"))
    app.get("/quote/ohlc")(quote_route("ohlc"))

    # Kite serves its instrument dump without a session: it is the same file for everyone.
    @app.get("/instruments")
    async def instruments() -> Response:
        return Response(exchange.instruments(), media_type="text/csv")

    @app.get("/instruments/{exchange_name}")
    async def exchange_instruments(exchange_name: str) -> Response:
        return Response(exchange.instruments(exchange_name), media_type="text/csv")

    @app.get("/instruments/historical/{instrument_token}/{interval}")
    async def historical(request: Request, instrument_token: str, interval: str) -> JSONResponse:
        user(request, "historical")
        return success(exchange.historical(instrument_token, interval, request.query_params))

    # -- orders -----------------------------------------------------------------------------

    def client_ip(request: Request) -> str | None:
        return request.client.host if request.client else None

    @app.post("/orders/{variety}")
    async def place_order(request: Request, variety: str) -> JSONResponse:
        user_id = user(request, "orders")
        form = await read_form(request)
        order_id = await run_in_threadpool(exchange.place_order, user_id, variety, form, client_ip(request))
        return success({"order_id": order_id})

    @app.delete("/orders/{variety}/{order_id}")
    async def cancel_order(request: Request, variety: str, order_id: str) -> JSONResponse:
        user_id = user(request, "orders")
        return success({"order_id": exchange.cancel_order(user_id, variety, order_id, client_ip(request))})

    @app.get("/orders")
    async def orders(request: Request) -> JSONResponse:
        return success(exchange.orders(user(request)))

    @app.get("/orders/{order_id}")
    async def order_history(request: Request, order_id: str) -> JSONResponse:
        return success(exchange.order_history(user(request), order_id))

    @app.get("/orders/{order_id}/trades")
    async def order_trades(request: Request, order_id: str) -> JSONResponse:
        return success(exchange.order_trades(user(request), order_id))

    @app.get("/trades")
    async def trades(request: Request) -> JSONResponse:
        return success(exchange.trades(user(request)))

    # -- admin ------------------------------------------------------------------------------

    def admin_only(request: Request) -> None:
        if client_ip(request) not in LOOPBACK:
            raise KiteError(403, "PermissionException", "The admin endpoints answer only on the loopback address.")

    @app.post("/admin/prices")
    async def admin_prices(request: Request) -> JSONResponse:
        admin_only(request)
        exchange.set_prices(parse_price_updates(await read_json(request)))
        return success(True)

    @app.get("/admin/faults")
    async def admin_faults(request: Request) -> JSONResponse:
        admin_only(request)
        return success(exchange.faults.pending())

    @app.post("/admin/faults")
    async def admin_add_fault(request: Request) -> JSONResponse:
        admin_only(request)
        body = await read_json(request)
        try:
            faults = [Fault.model_validate(item) for item in (body if isinstance(body, list) else [body])]
        except ValidationError as error:
            raise input_error(f"Invalid fault: {error.errors()[0]['msg']}.") from None
        for fault in faults:
            exchange.faults.add(fault)
        return success(exchange.faults.pending())

    @app.delete("/admin/faults")
    async def admin_clear_faults(request: Request) -> JSONResponse:
        admin_only(request)
        exchange.faults.clear()
        return success(True)

    @app.post("/admin/accounts/{user_id}/authorise")
    async def admin_authorise(request: Request, user_id: str) -> JSONResponse:
        admin_only(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not all(
            isinstance(quantity, int) and not isinstance(quantity, bool) and quantity >= 0 for quantity in body.values()
        ):
            raise input_error('Send {"SYMBOL": quantity, ...} with whole, non-negative quantities.')
        exchange.authorise_holdings(user_id, {symbol.upper(): quantity for symbol, quantity in body.items()})
        return success(True)

    @app.post("/admin/accounts/{user_id}/expire-sessions")
    async def admin_expire(request: Request, user_id: str) -> JSONResponse:
        admin_only(request)
        return success({"expired": exchange.expire_sessions(user_id)})

    return app


def parse_price_updates(body: object) -> dict[str, Mapping]:
    """`{"INFY": 1500.5}` or `{"INFY": {"last_price": 1500.5, "lower_circuit": .., "upper_circuit": ..}}`."""
    if not isinstance(body, dict) or not body:
        raise input_error('Send {"SYMBOL": price, ...} or {"SYMBOL": {"last_price": price, ...}, ...}.')
    updates = {}
    for symbol, value in body.items():
        update = {"last_price": value} if not isinstance(value, dict) else dict(value)
        unknown = set(update) - {"last_price", "close_price", "lower_circuit", "upper_circuit"}
        if unknown:
            raise input_error(f"{symbol}: unknown price fields {sorted(unknown)}.")
        for name, number in update.items():
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0.01 <= number <= MAX_PRICE:
                raise input_error(f"{symbol}: {name} must be a number from 0.01 to {MAX_PRICE:,.0f}.")
        if "last_price" not in update:
            raise input_error(f"{symbol}: last_price is required.")
        if ("lower_circuit" in update) != ("upper_circuit" in update):
            raise input_error(f"{symbol}: give lower_circuit and upper_circuit together.")
        if "lower_circuit" in update and not update["lower_circuit"] < update["upper_circuit"]:
            raise input_error(f"{symbol}: lower_circuit must be below upper_circuit.")
        name = str(symbol).strip()
        name = name[4:] if name[:4].upper() == "NSE:" else name
        if not name:
            raise input_error("A price update needs a symbol.")
        # Checked before upper(): "ſbin".upper() is "SBIN".
        if len(name) > MAX_SYMBOL_LENGTH or not SYMBOL.fullmatch(name):
            raise input_error(
                f"Invalid symbol {name[:MAX_SYMBOL_LENGTH]!a}: an NSE symbol is ASCII letters, digits and & - _ ."
            )
        name = name.upper()
        updates[name] = update
    return updates
