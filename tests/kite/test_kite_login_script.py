"""scripts/kite_login.py as a user runs it, against the paper exchange playing Kite: every option
in-process through main([...]), and the daily login once as a program."""

import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import webbrowser
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from kiteconnect import KiteConnect
from kiteconnect.exceptions import TokenException

from niftybaskets.cli.kite_login import main
from niftybaskets.encryption import decrypt, fernet_from_key, parse_artifact
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.store import TokenStore
from niftybaskets.webserver import BackgroundServer
from tests.fakes.github import FakeGitHub
from tests.kite.conftest import KEY, Browser

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kite_login.py"
OURS = ("KITE_", "ENCRYPTION_", "DATA_", "GITHUB_", "GH_")


@pytest.fixture
def env(world, tmp_path, monkeypatch):
    """The settings of a user whose Kite is the paper exchange, set for this process (and as a dict
    for a subprocess); the working folder has no .env."""
    values = {
        "KITE_API_KEY": "paperkey",
        "KITE_API_SECRET": "papersecret",
        "KITE_API_ROOT": world.paper.url,
        "KITE_REDIRECT_URL": world.callback,
        "ENCRYPTION_KEY": KEY,
        "DATA_DIR": str(tmp_path / "data"),
    }
    for name in os.environ:
        if name.startswith(OURS):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


def kite_login(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def login_link(world) -> str:
    return f"http://127.0.0.1:{world.port}/login"


def wait_until_listening(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url, allow_redirects=False, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class UserAtTheBrowser:
    """The person who opens the printed link once the helper listens (for --no-browser), on a thread."""

    def __init__(self, world, user_id: str | None = None, first=None) -> None:
        self.browser = Browser(user_id)
        self.link = login_link(world)
        self.first = first  # something done before the real login, e.g. a bad callback
        self.thread = threading.Thread(target=self._log_in)
        self.thread.start()

    def _log_in(self) -> None:
        wait_until_listening(self.link)
        if self.first:
            self.first()
        self.browser(self.link)

    def __enter__(self) -> Browser:
        return self.browser

    def __exit__(self, *exc: object) -> None:
        self.thread.join(30)


def log_in(capsys, world, *args: str, user_id: str | None = None) -> tuple[int, str, str]:
    with UserAtTheBrowser(world, user_id):
        return kite_login(capsys, "--no-browser", *args)


def stored_tokens(data_dir) -> dict[str, str]:
    store = TokenStore(Path(data_dir) / "niftybaskets.sqlite")
    tokens = {token.user_id: decrypt(fernet_from_key(KEY), token.encrypted_token) for token in store.tokens()}
    store.close()
    return tokens


def store_login(world, env, user_id: str) -> None:
    """A login of `user_id` made elsewhere (the family member's), stored as the helper would."""
    kite = world.paper.embedded.login(user_id)
    session = KiteSession(user_id, kite.profile()["user_name"], kite.access_token, "2026-11-23T10:00:00+05:30")
    store = TokenStore(Path(env["DATA_DIR"]) / "niftybaskets.sqlite")
    Sessions(world.settings, store, fernet_from_key(KEY)).save(session)
    store.close()


def stored_token(env) -> str:
    [token] = stored_tokens(env["DATA_DIR"]).values()
    return token


def test_the_daily_login_end_to_end(env, tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--no-browser", "--timeout", "30"],
        env=dict(os.environ),  # the env fixture's settings
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Log in to Kite:" in line:
            break
    link = lines[-1].split("Log in to Kite:")[1].strip()
    browser = Browser()
    browser(link)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Logged in to Kite as ZP0001" in browser.last.text
    console = "".join(lines) + out + err
    assert "Logged in as ZP0001 (Paper Trader); the token is stored encrypted." in console
    assert "Traceback" not in err and "CancelledError" not in err
    token = stored_token(env)
    for secret in (token, "papersecret", "paperkey", KEY):
        assert secret not in console


def test_the_login_opens_the_browser_on_the_local_link(capsys, world, env, monkeypatch):
    browser = Browser()
    monkeypatch.setattr(webbrowser, "open", browser)
    code, out, err = kite_login(capsys)
    assert code == 0, err
    assert browser.pages[0].url == login_link(world)
    assert f"Log in to Kite: {login_link(world)}" in out
    assert "Logged in as ZP0001 (Paper Trader); the token is stored encrypted." in out
    token = stored_token(env)
    assert KiteConnect("paperkey", access_token=token, root=world.paper.url).profile()["user_id"] == "ZP0001"
    for secret in (token, "papersecret", "paperkey", KEY):
        assert secret not in out + err


def test_export_list_and_import_on_another_machine(capsys, world, env, tmp_path, monkeypatch):
    assert log_in(capsys, world)[0] == 0
    code, listed, _ = kite_login(capsys, "--list")
    assert code == 0 and "ZP0001  Paper Trader" in listed and "valid" in listed
    artifact = tmp_path / "kite-token.json"
    code, exported, err = kite_login(capsys, "--export", str(artifact), "--quiet")
    assert code == 0, err
    assert f"Wrote the encrypted token of ZP0001 to {artifact} (mode 0600)" in exported
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600
    token = stored_token(env)
    assert token not in artifact.read_text() and token not in exported
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "runner"))
    code, imported, err = kite_login(capsys, "--import", str(artifact))
    assert code == 0, imported + err
    assert "Imported the token of ZP0001 (Paper Trader)" in imported
    assert stored_tokens(tmp_path / "runner") == {"ZP0001": token}
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    code, _, err = kite_login(capsys, "--import", str(artifact))
    assert code == 2 and "another ENCRYPTION_KEY" in err


def test_an_expired_token_file_is_refused_on_import(capsys, world, env, tmp_path, monkeypatch):
    log_in(capsys, world)
    artifact = tmp_path / "kite-token.json"
    assert kite_login(capsys, "--export", str(artifact), "--quiet")[0] == 0
    world.paper.exchange.expire_sessions("ZP0001")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "runner"))
    code, _, err = kite_login(capsys, "--import", str(artifact))
    assert code == 2 and "has expired" in err and "--user-id ZP0001" in err


def test_quiet_export_without_a_login_fails_with_the_command(capsys, env, tmp_path):
    code, _, err = kite_login(capsys, "--export", str(tmp_path / "t.json"), "--quiet")
    assert code == 2
    assert "No valid Kite login. Log in first: python3 scripts/kite_login.py" in err
    assert not (tmp_path / "t.json").exists()


def test_bad_input_exits_2(capsys, world, env, tmp_path, monkeypatch):
    (tmp_path / "junk.json").write_text("{}")
    code, out, err = kite_login(capsys, "--import", str(tmp_path / "junk.json"))
    assert code == 2 and "not a niftybaskets-kite-token/1 token file" in err and out == ""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", world.port))
        taken.listen()
        code, out, err = kite_login(capsys, "--no-browser")
    assert code == 2 and "already in use" in err and "Use --port with the matching KITE_REDIRECT_URL" in err
    monkeypatch.setenv("ENCRYPTION_KEY", "")
    code, out, err = kite_login(capsys, "--list")
    assert code == 2 and "ENCRYPTION_KEY is not set" in err and out == ""
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "'0' is not a port"),
        (["--port", "70000"], "'70000' is not a port"),
        (["--timeout", "0"], "'0' is not a number of seconds above 0"),
        (["--timeout", "soon"], "'soon' is not a number of seconds"),
        (["--list", "--push"], "not allowed with argument"),
    ],
)
def test_bad_options_are_usage_errors(capsys, env, args, message):
    code, out, err = kite_login(capsys, *args)
    assert code == 2 and message in err and out == ""


def test_ctrl_c_while_waiting_stops_cleanly_with_130(capsys, world, env):
    def press_ctrl_c() -> None:
        wait_until_listening(login_link(world))
        os.kill(os.getpid(), signal.SIGINT)  # to the process: the main thread gets it, as from a terminal

    thread = threading.Thread(target=press_ctrl_c)
    thread.start()
    code, _, err = kite_login(capsys, "--no-browser")
    thread.join()
    assert code == 130 and "cancelled." in err
    assert "Traceback" not in err and "CancelledError" not in err
    with socket.socket() as probe:  # the callback server is gone
        probe.bind(("127.0.0.1", world.port))
    assert stored_tokens(env["DATA_DIR"]) == {}


def test_a_login_that_times_out_exits_1(capsys, env):
    code, _, err = kite_login(capsys, "--no-browser", "--timeout", "0.5")
    assert code == 1 and "No login within 0.5 seconds" in err


def test_export_logs_in_first_when_nobody_is(capsys, world, env, tmp_path):
    artifact = tmp_path / "kite-token.json"
    code, out, err = log_in(capsys, world, "--export", str(artifact))
    assert code == 0, err
    assert "No valid login stored: logging in first." in out
    assert f"Wrote the encrypted token of ZP0001 to {artifact}" in out
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600


def test_a_bad_callback_does_not_end_the_helper_and_the_real_login_completes(capsys, world, env):
    bad_pages = []

    def bad_callback() -> None:
        to_kite = requests.get(login_link(world), allow_redirects=False, timeout=10).headers["location"]
        callback = requests.get(to_kite, allow_redirects=False, timeout=10).headers["location"]
        bad_pages.append(requests.get(callback.replace("request_token=", "request_token=bogus&was="), timeout=10))

    with UserAtTheBrowser(world, first=bad_callback) as browser:
        code, out, err = kite_login(capsys, "--no-browser", "--timeout", "30")
    assert code == 0, err
    [bad] = bad_pages
    assert bad.status_code == 400 and "still waiting" in bad.text and "log in again" in bad.text
    assert "Logged in to Kite as ZP0001" in browser.last.text
    assert "Kite refused this login's request token" in out and "Still waiting: open " in out
    assert "Logged in as ZP0001 (Paper Trader); the token is stored encrypted." in out
    for secret in (stored_token(env), "papersecret", "paperkey", KEY):
        assert secret not in out + err


def test_a_wrong_api_key_keeps_the_stored_login_and_names_the_mismatch(capsys, world, env, tmp_path, monkeypatch):
    assert log_in(capsys, world)[0] == 0
    token = stored_token(env)
    with pytest.raises(TokenException) as refused:  # Kite's answer to a token sent with another key
        KiteConnect("paperkee", access_token=token, root=world.paper.url).profile()
    assert refused.value.code == 403
    monkeypatch.setenv("KITE_API_KEY", "paperkee")
    listed = kite_login(capsys, "--list")
    exported = kite_login(capsys, "--export", str(tmp_path / "t.json"), "--quiet")
    for code, out, err in (listed, exported):
        assert code == 2, out + err
        assert "the API key does not match the stored login of ZP0001" in err
        assert "check KITE_API_KEY" in err
        assert "expired" not in out + err and "deleted" not in out + err
        for secret in (token, "paperkee", "papersecret", KEY):
            assert secret not in out + err
    assert not (tmp_path / "t.json").exists()
    assert stored_token(env) == token  # kept
    monkeypatch.setenv("KITE_API_KEY", "paperkey")  # the key fixed: the same login works
    code, out, _ = kite_login(capsys, "--list")
    assert code == 0 and "ZP0001  Paper Trader" in out and "valid" in out
    assert kite_login(capsys, "--export", str(tmp_path / "t.json"), "--quiet")[0] == 0


def test_list_with_nobody_logged_in_says_how_to_log_in(capsys, env):
    code, out, _ = kite_login(capsys, "--list")
    assert code == 0 and "No valid Kite logins stored. Log in with: python3 scripts/kite_login.py" in out


def test_logging_in_as_another_user_than_user_id_exits_2(capsys, world, env):
    code, out, err = log_in(capsys, world, "--user-id", "ZP0002")
    assert code == 2
    assert "Logged in as ZP0001" in out  # the login itself is kept
    assert "you logged in as ZP0001, not ZP0002; log in with that user's Zerodha ID" in err


def test_with_two_users_logged_in_export_asks_which_unless_told(capsys, world, env, tmp_path, monkeypatch):
    assert log_in(capsys, world)[0] == 0
    store_login(world, env, "ZP0002")
    artifact = tmp_path / "kite-token.json"
    monkeypatch.setattr(sys, "stdin", io.StringIO("3\n2\n"))
    code, out, err = kite_login(capsys, "--export", str(artifact))
    assert code == 0, err
    assert "1. ZP0001  Paper Trader" in out and "2. ZP0002  Family Member" in out
    assert "Which user? [1-2]: " in out and "Type a number from 1 to 2." in out
    assert parse_artifact(artifact.read_text()).user_id == "ZP0002"
    code, out, _ = kite_login(capsys, "--export", str(artifact), "--quiet")
    assert code == 0 and "Using ZP0001 (Paper Trader); also logged in: ZP0002 (--user-id picks)." in out
    assert parse_artifact(artifact.read_text()).user_id == "ZP0001"
    code, out, _ = kite_login(capsys, "--export", str(artifact), "--quiet", "--user-id", "ZP0002")
    assert code == 0 and "Which user?" not in out
    assert parse_artifact(artifact.read_text()).user_id == "ZP0002"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody to answer
    code, _, err = kite_login(capsys, "--export", str(artifact))
    assert code == 2 and "no user chosen; pass --user-id, or --quiet to take the first" in err


def test_push_sends_the_encrypted_token_to_the_kite_token_workflow(capsys, world, env, monkeypatch):
    github = FakeGitHub(token="ghp_pushTestToken0123")
    with BackgroundServer(github.app) as server:
        github.url = server.url
        monkeypatch.setenv("GH_TOKEN", github.token)
        monkeypatch.setenv("GITHUB_REPOSITORY", github.repository)
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        code, out, err = log_in(capsys, world, "--push")
    assert code == 0, err
    assert "No valid login stored: logging in first." in out
    assert "Sent the encrypted token of ZP0001 to owner/niftybaskets (kite-token.yml)" in out
    [dispatch] = github.dispatches
    assert (dispatch.workflow, dispatch.ref) == ("kite-token.yml", "main")
    artifact = parse_artifact(dispatch.inputs["token_file"])
    token = stored_token(env)
    assert artifact.user_id == "ZP0001" and token not in json.dumps(dispatch.inputs)
    assert decrypt(fernet_from_key(KEY), artifact.encrypted_token) == token
    for secret in (token, github.token, KEY):
        assert secret not in out + err


def test_push_without_github_settings_stops_before_any_login(capsys, env):
    code, out, err = kite_login(capsys, "--push", "--no-browser")
    assert code == 2 and "set GITHUB_TOKEN or GH_TOKEN" in err and "Log in to Kite" not in out


def test_port_moves_the_callback_only_with_a_matching_redirect_url(capsys, world, env, monkeypatch):
    code, out, err = log_in(capsys, world, "--port", str(world.port))
    assert code == 0 and f"Listening on {world.callback}" in out, err
    code, _, err = kite_login(capsys, "--port", str(world.port + 1), "--no-browser")
    assert code == 2 and f"--port {world.port + 1} does not match KITE_REDIRECT_URL" in err


def test_version_help_and_verbose(capsys, env):
    code, out, _ = kite_login(capsys, "--version")
    assert code == 0 and out.startswith("niftybaskets ")
    code, out, _ = kite_login(capsys, "--help")
    assert code == 0 and "KITE_REDIRECT_URL" in out and "python3 scripts/kite_login.py --push" in out
    assert "130 stopped by Ctrl-C" in out
    code, out, _ = kite_login(capsys, "-v", "--list")
    assert code == 0 and "No valid Kite logins stored" in out
