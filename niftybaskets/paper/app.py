"""The paper exchange's HTTP face: Kite Connect v3 routes, envelopes and status codes.

Every answer is `{"status": "success", "data": ...}` or Kite's error envelope; no request, however
malformed, gets a traceback. `/admin/*` (loopback only) moves prices, arms faults, authorises
holdings and ends sessions.

The routes are grouped by area. Their handlers are plain functions, which FastAPI runs in its
thread pool: the exchange's SQLite work and its lock never hold up the event loop. Only reading a
request's body is awaited, in the async dependencies `posted_form` and `raw_body`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from niftybaskets.paper.account_file import Fault
from niftybaskets.paper.errors import ERROR_TYPE_BY_STATUS, KiteError, input_error
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.faults import FaultQueue
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


@dataclass(frozen=True)
class PostedForm:
    """A request's form fields, read before its handler runs. A body that is not a readable form is
    refused when the handler asks for the fields: after the token is checked, as Kite does."""

    fields: dict[str, str]
    problem: KiteError | None = None

    def require(self) -> dict[str, str]:
        if self.problem is not None:
            raise self.problem
        return self.fields


async def posted_form(request: Request) -> PostedForm:
    """Kite's write endpoints take form fields; anything else is a clear InputException."""
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return PostedForm(
            {},
            input_error(f"Send the parameters as form fields (application/x-www-form-urlencoded), not {content_type}."),
        )
    try:
        form = await request.form()
    except Exception:  # the form parsers raise several types on a broken body
        return PostedForm({}, input_error("The request body is not a readable form."))
    return PostedForm({key: value for key, value in form.items() if isinstance(value, str)})


async def raw_body(request: Request) -> bytes:
    return await request.body()


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


# -- dependencies ---------------------------------------------------------------------------


async def paper_exchange(request: Request) -> PaperExchange:
    return request.app.state.exchange


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


Exchange = Annotated[PaperExchange, Depends(paper_exchange)]


def session_user(exchange: PaperExchange, request: Request, bucket: str = "api") -> str:
    """The user behind the request's token, counted against `bucket`'s rate limit."""
    return exchange.authenticate(request.headers.get("authorization"), bucket)


async def loopback_only(request: Request) -> None:
    if client_ip(request) not in LOOPBACK:
        raise KiteError(403, "PermissionException", "The admin endpoints answer only on the loopback address.")


Form = Annotated[PostedForm, Depends(posted_form)]
RawBody = Annotated[bytes, Depends(raw_body)]


def require_fields(fields: Mapping[str, str], names: tuple[str, ...]) -> None:
    missing = [name for name in names if not fields.get(name)]
    if missing:
        raise input_error(f"Missing {', '.join(f'`{name}`' for name in missing)}.")


# -- login ----------------------------------------------------------------------------------

login = APIRouter()


@login.get("/connect/login")
def connect_login(request: Request, exchange: Exchange) -> RedirectResponse:
    params = request.query_params
    url = exchange.login_redirect(params.get("api_key", ""), params.get("redirect_params"), params.get("user_id"))
    return RedirectResponse(url, status_code=302)


@login.post("/session/token")
def session_token(exchange: Exchange, form: Form) -> JSONResponse:
    fields = form.require()
    require_fields(fields, ("api_key", "request_token", "checksum"))
    return success(exchange.create_session(fields["api_key"], fields["request_token"], fields["checksum"]))


@login.delete("/session/token")
def session_logout(request: Request, exchange: Exchange) -> JSONResponse:
    params = request.query_params
    require_fields(params, ("api_key", "access_token"))
    return success(exchange.invalidate_session(params["api_key"], params["access_token"]))


# -- user and portfolio ---------------------------------------------------------------------

portfolio = APIRouter()


@portfolio.get("/user/profile")
def profile(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.profile(session_user(exchange, request)))


@portfolio.get("/user/margins")
def margins(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.margins(session_user(exchange, request)))


@portfolio.get("/user/margins/{segment}")
def segment_margins(request: Request, exchange: Exchange, segment: str) -> JSONResponse:
    return success(exchange.margins(session_user(exchange, request), segment))


@portfolio.get("/portfolio/holdings")
def holdings(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.holdings(session_user(exchange, request)))


@portfolio.get("/portfolio/positions")
def positions(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.positions(session_user(exchange, request)))


# -- market data ----------------------------------------------------------------------------

market = APIRouter()


@market.get("/quote")
def full_quote(request: Request, exchange: Exchange) -> JSONResponse:
    session_user(exchange, request, "quote")
    return success(exchange.quote(request.query_params.getlist("i"), "quote"))


@market.get("/quote/ltp")
def ltp(request: Request, exchange: Exchange) -> JSONResponse:
    session_user(exchange, request, "quote")
    return success(exchange.quote(request.query_params.getlist("i"), "ltp"))


@market.get("/quote/ohlc")
def ohlc(request: Request, exchange: Exchange) -> JSONResponse:
    session_user(exchange, request, "quote")
    return success(exchange.quote(request.query_params.getlist("i"), "ohlc"))


# Kite serves its instrument dump without a session: it is the same file for everyone.
@market.get("/instruments")
def instruments(exchange: Exchange) -> Response:
    return Response(exchange.instruments(), media_type="text/csv")


@market.get("/instruments/{exchange_name}")
def exchange_instruments(exchange: Exchange, exchange_name: str) -> Response:
    return Response(exchange.instruments(exchange_name), media_type="text/csv")


@market.get("/instruments/historical/{instrument_token}/{interval}")
def historical(request: Request, exchange: Exchange, instrument_token: str, interval: str) -> JSONResponse:
    session_user(exchange, request, "historical")
    return success(exchange.historical(instrument_token, interval, request.query_params))


# -- orders ---------------------------------------------------------------------------------

orders = APIRouter()


@orders.post("/orders/{variety}")
def place_order(request: Request, exchange: Exchange, form: Form, variety: str) -> JSONResponse:
    user_id = session_user(exchange, request, "orders")
    return success({"order_id": exchange.place_order(user_id, variety, form.require(), client_ip(request))})


@orders.delete("/orders/{variety}/{order_id}")
def cancel_order(request: Request, exchange: Exchange, variety: str, order_id: str) -> JSONResponse:
    user_id = session_user(exchange, request, "orders")
    return success({"order_id": exchange.cancel_order(user_id, variety, order_id, client_ip(request))})


@orders.get("/orders")
def order_book(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.orders(session_user(exchange, request)))


@orders.get("/orders/{order_id}")
def order_history(request: Request, exchange: Exchange, order_id: str) -> JSONResponse:
    return success(exchange.order_history(session_user(exchange, request), order_id))


@orders.get("/orders/{order_id}/trades")
def order_trades(request: Request, exchange: Exchange, order_id: str) -> JSONResponse:
    return success(exchange.order_trades(session_user(exchange, request), order_id))


@orders.get("/trades")
def trades(request: Request, exchange: Exchange) -> JSONResponse:
    return success(exchange.trades(session_user(exchange, request)))


# -- admin ----------------------------------------------------------------------------------

admin = APIRouter(prefix="/admin", dependencies=[Depends(loopback_only)])


@admin.post("/prices")
def admin_prices(exchange: Exchange, body: RawBody) -> JSONResponse:
    exchange.set_prices(parse_price_updates(parse_json(body)))
    return success(True)


@admin.get("/faults")
def admin_faults(exchange: Exchange) -> JSONResponse:
    return success(exchange.faults.pending())


@admin.post("/faults")
def admin_add_fault(exchange: Exchange, body: RawBody) -> JSONResponse:
    parsed = parse_json(body)
    try:
        faults = [Fault.model_validate(item) for item in (parsed if isinstance(parsed, list) else [parsed])]
    except ValidationError as error:
        raise input_error(f"Invalid fault: {error.errors()[0]['msg']}.") from None
    for fault in faults:
        exchange.faults.add(fault)
    return success(exchange.faults.pending())


@admin.delete("/faults")
def admin_clear_faults(exchange: Exchange) -> JSONResponse:
    exchange.faults.clear()
    return success(True)


@admin.post("/accounts/{user_id}/authorise")
def admin_authorise(exchange: Exchange, body: RawBody, user_id: str) -> JSONResponse:
    quantities = parse_json(body)
    if not isinstance(quantities, dict) or not all(
        isinstance(quantity, int) and not isinstance(quantity, bool) and quantity >= 0
        for quantity in quantities.values()
    ):
        raise input_error('Send {"SYMBOL": quantity, ...} with whole, non-negative quantities.')
    exchange.authorise_holdings(user_id, {symbol.upper(): quantity for symbol, quantity in quantities.items()})
    return success(True)


@admin.post("/accounts/{user_id}/expire-sessions")
def admin_expire(exchange: Exchange, user_id: str) -> JSONResponse:
    return success({"expired": exchange.expire_sessions(user_id)})


# -- the app --------------------------------------------------------------------------------


class InjectedFaults:
    """Answers a request with its armed fault: before the work is done, or after it (the answer lost).

    Plain ASGI rather than `@app.middleware("http")`, which costs every request a task and streams."""

    def __init__(self, app: ASGIApp, faults: FaultQueue) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.faults.take(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.when == "after":
            await self.app(scope, receive, discard)
        await asyncio.sleep(fault.delay)
        error_type = ERROR_TYPE_BY_STATUS.get(fault.status, "GeneralException")
        answer = error_response(KiteError(fault.status, error_type, f"Injected fault: HTTP {fault.status}."))
        await answer(scope, receive, send)


async def discard(_: Message) -> None:
    """Where the answer of a request whose fault loses it goes."""


def create_app(exchange: PaperExchange) -> FastAPI:
    app = FastAPI(title="niftybaskets paper exchange", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.exchange = exchange
    for router in (login, portfolio, market, orders, admin):
        app.include_router(router)

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

    app.add_middleware(InjectedFaults, faults=exchange.faults)
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
