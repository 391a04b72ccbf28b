"""The daily Kite login: a local page that sends the browser to Kite, and the callback it returns to.

The helper listens on the redirect URL registered in the Kite app (http://127.0.0.1:8080/callback
by default). `/login` forwards the browser to Kite's login page with a fresh `state` in
`redirect_params`; `/callback` checks that state, exchanges the request token and stores the
access token encrypted. The console shows only the local /login link: neither the API key nor
any token is printed.

The first successful exchange wins. A browser may send the same callback several times at once
(a retry): the duplicates' exchanges fail (a request token is single-use), and they are answered
with the winner's page. A refused or unreachable exchange ends nothing: the helper says what
happened and keeps waiting for another login until its timeout. Only a setting to fix (a wrong
API key or secret, a ConfigError) or a fault of this machine (a LoginFailed) ends it early.
"""

from __future__ import annotations

import html
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from kiteconnect import exceptions as kite_errors
from requests import RequestException

from niftybaskets.config import DEFAULT_REDIRECT_URL, ConfigError, Settings
from niftybaskets.errors import NiftyError
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.webserver import BackgroundServer

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Callback:
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def login_link(self) -> str:
        return f"http://{self.host}:{self.port}/login"


class LoginFailed(NiftyError):
    """No login completed: none came before the timeout, or this machine could not finish one."""


def callback_address(redirect_url: str, port: int | None) -> Callback:
    """Where to listen: the redirect URL's host, port and path. --port moves the default URL's port;
    with KITE_REDIRECT_URL set, the two must agree."""
    parts = urlsplit(redirect_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or not parts.path.startswith("/"):
        raise ConfigError(
            f"KITE_REDIRECT_URL must be an http URL on this machine, like http://127.0.0.1:8080/callback; "
            f"got {redirect_url}"
        )
    if parts.path == "/login":
        raise ConfigError("KITE_REDIRECT_URL cannot use the path /login: the helper's own link lives there")
    url_port = parts.port or 80
    if port is not None and redirect_url != DEFAULT_REDIRECT_URL and port != url_port:
        raise ConfigError(
            f"--port {port} does not match KITE_REDIRECT_URL ({redirect_url}); Kite sends the browser to the "
            "URL registered in your app, so change both together"
        )
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return Callback(host, url_port if port is None else port, parts.path)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family: sans-serif; max-width: 40em; margin: 3em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>",
        status_code=status,
    )


class Exchanges:
    """The callbacks' token exchanges, run side by side: the first success wins, and a failure that
    overlapped a running exchange waits for it, so a duplicate of a good login is not reported as
    a failure."""

    WAIT_SECONDS = 60.0  # bounds the wait for an overlapping exchange (Kite calls time out well before)

    def __init__(self, exchange: Callable[[str], KiteSession]) -> None:
        self._exchange = exchange
        self._changed = threading.Condition()
        self._running = 0
        self.winner: KiteSession | None = None

    def run(self, request_token: str) -> tuple[KiteSession | None, bool]:
        """(the session, whether this call won it), or raises the exchange's error when no exchange
        running alongside it succeeded."""
        with self._changed:
            if self.winner is not None:
                return self.winner, False
            self._running += 1
        try:
            session = self._exchange(request_token)
        except BaseException:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()
                self._changed.wait_for(lambda: self.winner is not None or self._running == 0, self.WAIT_SECONDS)
                if self.winner is not None:
                    return self.winner, False
            raise
        with self._changed:
            self._running -= 1
            won = self.winner is None
            if won:
                self.winner = session
            self._changed.notify_all()
            return self.winner, won


def logged_in_page(session: KiteSession) -> HTMLResponse:
    return page("Logged in", f"Logged in to Kite as {session.user_id} ({session.user_name}). You can close this tab.")


def create_callback_app(
    callback: Callback,
    kite_login_url: str,
    state: str,
    exchange: Callable[[str], KiteSession],
    finish: Callable[[KiteSession | NiftyError], None],
    say: Callable[[str], None],
    failed: Callable[[str], None] = lambda reason: None,
) -> FastAPI:
    """`finish` gets the first successful login, or an error no other login could mend; `failed`
    gets the reason of each failed exchange the helper outlives."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    exchanges = Exchanges(exchange)
    again = f"The helper is still waiting: open {callback.login_link} to log in again."

    def retry(reason: str, title: str, status: int) -> HTMLResponse:
        failed(reason)
        say(f"{reason}. Still waiting: open {callback.login_link} to log in again.")
        return page(title, f"{reason}. {again}", status)

    @app.get("/login")
    async def login() -> RedirectResponse:
        return RedirectResponse(kite_login_url, status_code=302)

    @app.get(callback.path)
    async def returned(request: Request) -> HTMLResponse:
        params = request.query_params
        if not secrets.compare_digest(params.get("state", ""), state):
            say("Refused a callback that this helper did not ask for (wrong state); still waiting for your login.")
            return page(
                "Login refused",
                "This callback did not come from the login this helper started. Use the link the helper printed.",
                400,
            )
        if params.get("status") != "success":
            say(f"Kite reports the login did not succeed (status={params.get('status')!r}); open the link again.")
            return page("Login did not succeed", "Kite did not complete the login. Open the helper's link again.", 400)
        request_token = params.get("request_token", "")
        if not request_token:
            say("Kite came back without a request token; open the link again.")
            return page("No request token", "Kite came back without a request token. Open the link again.", 400)
        try:
            session, won = await run_in_threadpool(exchanges.run, request_token)
        except kite_errors.KiteException as error:
            # A wrong api_key or secret is a setting to fix, and no new login mends it.
            if "checksum" in str(error).lower() or "api_key" in str(error).lower():
                finish(
                    ConfigError(f"Kite refused the token exchange: {error} (check KITE_API_KEY and KITE_API_SECRET)")
                )
                return page("Login failed", f"Kite refused the token exchange: {error}", 502)
            # A stale, reused or made-up request token: the next login brings a fresh one.
            return retry(f"Kite refused this login's request token ({error})", "Login not completed", 400)
        except RequestException as error:
            return retry(
                f"Could not reach Kite to finish the login ({type(error).__name__})", "Login not completed", 502
            )
        except Exception as error:  # a fault of this machine (the store?): end with a message, never hang
            finish(LoginFailed(f"The login failed: {type(error).__name__}: {error}"))
            return page("Login failed", "The helper could not finish the login; see its console.", 500)
        if won:
            finish(session)
        return logged_in_page(session)

    return app


def run_login(
    settings: Settings,
    sessions: Sessions,
    port: int | None,
    open_browser: Callable[[str], object] | None,
    timeout: float,
    say: Callable[[str], None],
    show_link: Callable[[str], None],
) -> KiteSession:
    """Serve the callback until a login completes (its session), fails for good (ConfigError for a setting
    to fix, LoginFailed for this machine), or `timeout` seconds pass (LoginFailed)."""
    settings.require("kite_api_key", "kite_api_secret", "encryption_key")
    callback = callback_address(settings.kite_redirect_url, port)
    state = secrets.token_urlsafe(24)
    query = urlencode({"v": "3", "api_key": settings.kite_api_key, "redirect_params": urlencode({"state": state})})
    done = threading.Event()
    outcomes: list[KiteSession | NiftyError] = []
    failures: list[str] = []

    def finish(outcome: KiteSession | NiftyError) -> None:
        outcomes.append(outcome)
        done.set()

    app = create_callback_app(
        callback, f"{settings.login_page}?{query}", state, sessions.exchange, finish, say, failures.append
    )
    with BackgroundServer(app, host=callback.host, port=callback.port, log_level="error"):
        say(f"Listening on {callback.url} (this must be the redirect URL registered in your Kite app).")
        show_link(callback.login_link)
        if open_browser is not None:
            open_browser(callback.login_link)
        if not done.wait(timeout):
            last = f" The last attempt failed: {failures[-1]}." if failures else ""
            raise LoginFailed(f"No login within {timeout:g} seconds; run the helper again.{last}")
    # A login that succeeded wins over an error reported alongside it.
    outcome = next((each for each in outcomes if isinstance(each, KiteSession)), outcomes[0])
    if isinstance(outcome, NiftyError):
        raise outcome
    return outcome
