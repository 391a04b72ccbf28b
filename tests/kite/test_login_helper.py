"""The login helper end to end: paper exchange's login page -> our callback -> encrypted token."""

import socket
import threading
from io import StringIO

import pytest
import requests
from kiteconnect import KiteConnect
from rich.console import Console

from niftybaskets.cli.kite_login import show_link
from niftybaskets.config import ConfigError
from niftybaskets.encryption import decrypt, fernet_from_key
from niftybaskets.kite.login import LoginFailed, callback_address, run_login
from niftybaskets.webserver import PortInUseError
from tests.kite.conftest import KEY, Browser, make_settings


def login(world, browser=None, timeout=10.0, settings=None):
    return run_login(
        settings or world.settings,
        world.sessions,
        None,
        browser,
        timeout,
        world.messages.append,
        world.links.append,
    )


def test_a_login_stores_an_encrypted_token_that_works(world):
    browser = Browser()
    session = login(world, browser)
    assert session.user_id == "ZP0001"
    assert "Logged in to Kite as ZP0001" in browser.last.text
    assert world.links == [f"http://127.0.0.1:{world.port}/login"]
    [stored] = world.store.tokens()
    assert stored.user_id == "ZP0001" and stored.user_name == "Paper Trader"
    token = decrypt(fernet_from_key(KEY), stored.encrypted_token)
    assert token and token not in stored.encrypted_token
    assert KiteConnect("paperkey", access_token=token, root=world.paper.url).profile()["user_id"] == "ZP0001"
    assert token not in world.output() and "paperkey" not in world.output() and "papersecret" not in world.output()


def test_the_helper_sends_a_state_and_kite_returns_it(world):
    captured = {}

    def browser(url):
        first = requests.get(url, allow_redirects=False, timeout=5)
        captured["kite_login"] = first.headers["location"]
        Browser()(url)

    login(world, browser)
    assert "redirect_params=state%3D" in captured["kite_login"]
    assert captured["kite_login"].startswith(f"{world.paper.url}/connect/login?v=3&api_key=paperkey")


def callback_query(world):
    """What Kite would send back to the helper for a login: read off the helper's own redirects."""
    login_page = requests.get(f"http://127.0.0.1:{world.port}/login", allow_redirects=False, timeout=5)
    back = requests.get(login_page.headers["location"], allow_redirects=False, timeout=5)
    return back.headers["location"]


def run_in_background(world, timeout):
    """The login on a thread; `outcome` gets its session ("session") or its error ("error")."""
    outcome = {}

    def log_in() -> None:
        try:
            outcome["session"] = login(world, None, timeout)
        except LoginFailed as error:
            outcome["error"] = error

    thread = threading.Thread(target=log_in)
    thread.start()
    for _ in range(200):
        if world.links:
            break
        threading.Event().wait(0.02)
    return thread, outcome


def test_a_forged_callback_is_refused_and_the_real_login_still_completes(world):
    thread, outcome = run_in_background(world, timeout=10)
    forged = requests.get(f"{world.callback}?status=success&request_token=abc&state=guess", timeout=5)
    assert forged.status_code == 400 and "did not come from the login this helper started" in forged.text
    assert any("wrong state" in message for message in world.messages)
    real = requests.get(callback_query(world), timeout=10)
    thread.join()
    assert real.status_code == 200
    assert outcome["session"].user_id == "ZP0001"


@pytest.mark.parametrize(
    ("change", "message"),
    [({"status": "error"}, "did not succeed"), ({"request_token": ""}, "without a request token")],
)
def test_a_failed_or_empty_callback_gets_a_clear_page_and_the_helper_keeps_waiting(world, change, message):
    thread, outcome = run_in_background(world, timeout=1.5)
    url = callback_query(world)
    for name, value in change.items():
        url = url.replace(f"{name}=", f"{name}={value}&was_{name}=")
    response = requests.get(url, timeout=5)
    assert response.status_code == 400
    thread.join()
    assert any(message in text for text in world.messages)
    assert "No login within" in str(outcome["error"]) and outcome["error"].exit_code == 1
    assert world.store.tokens() == []


def test_other_paths_answer_404(world):
    thread, _ = run_in_background(world, timeout=1)
    assert requests.get(f"http://127.0.0.1:{world.port}/admin", timeout=5).status_code == 404
    thread.join()


def test_a_timeout_ends_the_wait_and_frees_the_port(world):
    with pytest.raises(LoginFailed, match=r"No login within 0\.2 seconds") as failed:
        login(world, None, timeout=0.2)
    assert failed.value.exit_code == 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", world.port))


def test_a_taken_port_is_reported(world):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", world.port))
        taken.listen()
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{world.port} is already in use"):
            login(world, Browser())


def test_a_wrong_api_secret_fails_the_exchange_as_a_configuration_error(world, tmp_path):
    settings = make_settings(world.paper.url, tmp_path, world.port, kite_api_secret="wrong")
    world.sessions.settings = settings
    with pytest.raises(ConfigError, match="KITE_API_SECRET") as refused:
        login(world, Browser(), settings=settings)
    assert refused.value.exit_code == 2
    assert world.store.tokens() == []


def test_missing_settings_are_named(world, tmp_path):
    settings = make_settings(world.paper.url, tmp_path, world.port, kite_api_key="", encryption_key="")
    with pytest.raises(ConfigError, match=r"KITE_API_KEY is not set.*ENCRYPTION_KEY is not set"):
        login(world, Browser(), settings=settings)


@pytest.mark.parametrize(
    ("url", "port", "expected"),
    [
        ("http://127.0.0.1:8080/callback", None, ("127.0.0.1", 8080, "/callback")),
        ("http://127.0.0.1:8080/callback", 9000, ("127.0.0.1", 9000, "/callback")),  # the default URL moves
        ("http://localhost:7000/kite", None, ("127.0.0.1", 7000, "/kite")),
    ],
)
def test_the_callback_address_follows_the_redirect_url(url, port, expected):
    callback = callback_address(url, port)
    assert (callback.host, callback.port, callback.path) == expected


@pytest.mark.parametrize(
    ("url", "port", "message"),
    [
        ("https://example.com/callback", None, "on this machine"),
        ("http://127.0.0.1:7000/callback", 9000, "does not match"),
        ("http://127.0.0.1:7000/login", None, "/login"),
    ],
)
def test_redirect_urls_the_helper_cannot_serve_are_refused(url, port, message):
    with pytest.raises(ConfigError, match=message):
        callback_address(url, port)


def test_the_link_is_clickable_in_a_terminal_and_plain_elsewhere():
    terminal = StringIO()
    show_link(Console(file=terminal, force_terminal=True, width=200))("http://127.0.0.1:8080/login")
    assert "\x1b]8;" in terminal.getvalue()  # an OSC-8 hyperlink
    assert "http://127.0.0.1:8080/login\n" in terminal.getvalue()  # and the plain URL on its own line
    piped = StringIO()
    show_link(Console(file=piped, force_terminal=False, width=200))("http://127.0.0.1:8080/login")
    assert piped.getvalue() == "Log in to Kite: http://127.0.0.1:8080/login\n"


def bad_token_callback(world) -> str:
    """A callback with this login's state (so not forged) but a request token Kite never issued."""
    url = callback_query(world)
    return url.replace("request_token=", "request_token=bogus&was_request_token=")


def test_a_callback_with_a_bad_request_token_leaves_the_helper_waiting_for_the_real_login(world):
    thread, outcome = run_in_background(world, timeout=30)
    bad = requests.get(bad_token_callback(world), timeout=10)
    assert bad.status_code == 400
    assert "Kite refused this login&#x27;s request token (Token is invalid or has expired.)" in bad.text
    assert f"still waiting: open http://127.0.0.1:{world.port}/login to log in again" in bad.text
    assert world.store.tokens() == []
    real = requests.get(callback_query(world), timeout=10)  # the helper still listens
    thread.join()
    assert real.status_code == 200 and "Logged in to Kite as ZP0001" in real.text
    assert outcome["session"].user_id == "ZP0001"
    assert any("Kite refused this login's request token" in message for message in world.messages)


def test_a_helper_that_only_saw_failed_logins_times_out_naming_the_last_failure(world):
    thread, outcome = run_in_background(world, timeout=1.5)
    assert requests.get(bad_token_callback(world), timeout=10).status_code == 400
    thread.join()
    message = str(outcome["error"])
    assert "session" not in outcome and outcome["error"].exit_code == 1
    assert message.startswith("No login within 1.5 seconds; run the helper again.")
    assert "The last attempt failed: Kite refused this login's request token" in message
    assert ".." not in message


def race(url: str, copies: int) -> list[requests.Response]:
    """`copies` identical requests, let go at the same moment (a browser retrying a callback)."""
    start = threading.Barrier(copies)
    responses: list[requests.Response] = [None] * copies

    def send(number: int) -> None:
        start.wait(10)
        responses[number] = requests.get(url, timeout=30)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_duplicate_callbacks_at_once_report_the_login_that_succeeded(world):
    """The winner's exchange is held until a duplicate's exchange has failed (the request token is
    single-use), so the duplicate's failure is always seen before the winner's success."""
    real_exchange = world.sessions.exchange
    duplicate_failed = threading.Event()

    def exchange(request_token):
        try:
            session = real_exchange(request_token)
        except Exception:
            duplicate_failed.set()
            raise
        duplicate_failed.wait(10)
        return session

    world.sessions.exchange = exchange
    for _ in range(3):
        duplicate_failed.clear()
        world.messages.clear()
        world.links.clear()
        thread, outcome = run_in_background(world, timeout=30)
        responses = race(callback_query(world), copies=4)
        thread.join()
        assert duplicate_failed.is_set()
        assert [response.status_code for response in responses] == [200] * 4
        assert all("Logged in to Kite as ZP0001" in response.text for response in responses)
        assert "error" not in outcome and outcome["session"].user_id == "ZP0001"
        assert not any("refused" in message for message in world.messages)
        [stored] = world.store.tokens()
        token = decrypt(fernet_from_key(KEY), stored.encrypted_token)
        assert KiteConnect("paperkey", access_token=token, root=world.paper.url).profile()["user_id"] == "ZP0001"
