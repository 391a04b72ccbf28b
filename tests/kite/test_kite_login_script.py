"""scripts/kite_login.py as a user runs it, against the paper exchange playing Kite."""

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from kiteconnect import KiteConnect
from kiteconnect.exceptions import TokenException

from niftybaskets.encryption import decrypt, fernet_from_key
from niftybaskets.store import Store
from tests.kite.conftest import KEY, Browser

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kite_login.py"


@pytest.fixture
def env(world, tmp_path):
    values = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("KITE_", "ENCRYPTION_", "DATA_"))},
        "KITE_API_KEY": "paperkey",
        "KITE_API_SECRET": "papersecret",
        "KITE_API_ROOT": world.paper.url,
        "KITE_REDIRECT_URL": world.callback,
        "ENCRYPTION_KEY": KEY,
        "DATA_DIR": str(tmp_path / "data"),
    }
    return values


def start(env, *args, cwd):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(env, *args, cwd, timeout=60):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def wait_for_link(process) -> tuple[str, list[str]]:
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Log in to Kite:" in line:
            return line.split("Log in to Kite:")[1].strip(), lines
    raise AssertionError("no login link: " + "".join(lines) + process.stderr.read())


def stored_token(env) -> str:
    store = Store(Path(env["DATA_DIR"]) / "niftybaskets.sqlite")
    [token] = store.tokens()
    store.close()
    return decrypt(fernet_from_key(KEY), token.encrypted_token)


def test_the_daily_login_end_to_end(env, tmp_path):
    process = start(env, "--no-browser", "--timeout", "30", cwd=tmp_path)
    link, lines = wait_for_link(process)
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


def test_export_list_and_import_on_another_machine(env, tmp_path):
    process = start(env, "--no-browser", cwd=tmp_path)
    Browser()(wait_for_link(process)[0])
    assert process.wait(timeout=30) == 0
    listed = run(env, "--list", cwd=tmp_path)
    assert "ZP0001  Paper Trader" in listed.stdout and "valid" in listed.stdout
    artifact = tmp_path / "kite-token.json"
    exported = run(env, "--export", str(artifact), "--quiet", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600
    token = stored_token(env)
    assert token not in artifact.read_text() and token not in exported.stdout
    runner = {**env, "DATA_DIR": str(tmp_path / "runner")}
    imported = run(runner, "--import", str(artifact), cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Imported the token of ZP0001" in imported.stdout
    assert stored_token(runner) == token
    wrong_key = run(
        {**runner, "ENCRYPTION_KEY": Fernet.generate_key().decode()}, "--import", str(artifact), cwd=tmp_path
    )
    assert wrong_key.returncode == 2 and "another ENCRYPTION_KEY" in wrong_key.stderr


def test_an_expired_token_file_is_refused_on_import(env, tmp_path, world):
    process = start(env, "--no-browser", cwd=tmp_path)
    Browser()(wait_for_link(process)[0])
    process.wait(timeout=30)
    artifact = tmp_path / "kite-token.json"
    assert run(env, "--export", str(artifact), "--quiet", cwd=tmp_path).returncode == 0
    world.paper.exchange.expire_sessions("ZP0001")
    result = run({**env, "DATA_DIR": str(tmp_path / "runner")}, "--import", str(artifact), cwd=tmp_path)
    assert result.returncode == 2 and "has expired" in result.stderr


def test_quiet_export_without_a_login_fails_with_the_command(env, tmp_path):
    result = run(env, "--export", str(tmp_path / "t.json"), "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "No valid Kite login. Log in first: python3 scripts/kite_login.py" in result.stderr
    assert not (tmp_path / "t.json").exists()


def test_bad_input_exits_2(env, tmp_path):
    missing_key = run({**env, "ENCRYPTION_KEY": ""}, "--list", cwd=tmp_path)
    assert missing_key.returncode == 2 and "ENCRYPTION_KEY is not set" in missing_key.stderr
    (tmp_path / "junk.json").write_text("{}")
    junk = run(env, "--import", str(tmp_path / "junk.json"), cwd=tmp_path)
    assert junk.returncode == 2 and "not a niftybaskets-kite-token/1 token file" in junk.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["KITE_REDIRECT_URL"].split(":")[2].split("/")[0])))
        taken.listen()
        busy = run(env, "--no-browser", cwd=tmp_path)
    assert busy.returncode == 2 and "already in use" in busy.stderr
    for result in (missing_key, junk, busy):
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_ctrl_c_while_waiting_stops_cleanly(env, tmp_path):
    process = start(env, "--no-browser", cwd=tmp_path)
    wait_for_link(process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "login cancelled" in err
    assert "Traceback" not in err and "CancelledError" not in err


def test_a_login_that_times_out_exits_1(env, tmp_path):
    result = run(env, "--no-browser", "--timeout", "0.5", cwd=tmp_path)
    assert result.returncode == 1 and "No login within 0.5 seconds" in result.stderr


def test_export_logs_in_first_when_nobody_is(env, tmp_path):
    artifact = tmp_path / "kite-token.json"
    process = start(env, "--export", str(artifact), "--no-browser", cwd=tmp_path)
    link, lines = wait_for_link(process)
    Browser()(link)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "No valid login stored: logging in first." in "".join(lines)
    assert f"Wrote the encrypted token of ZP0001 to {artifact}" in out
    assert stat.S_IMODE(artifact.stat().st_mode) == 0o600


def test_a_bad_callback_does_not_end_the_helper_and_the_real_login_completes(env, tmp_path):
    process = start(env, "--no-browser", "--timeout", "30", cwd=tmp_path)
    link, lines = wait_for_link(process)
    to_kite = requests.get(link, allow_redirects=False, timeout=10).headers["location"]
    callback = requests.get(to_kite, allow_redirects=False, timeout=10).headers["location"]
    bad = requests.get(callback.replace("request_token=", "request_token=bogus&was="), timeout=10)
    assert bad.status_code == 400 and "still waiting" in bad.text and "log in again" in bad.text
    browser = Browser()
    browser(link)  # the user's real login: the helper still listens
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Logged in to Kite as ZP0001" in browser.last.text
    console = "".join(lines) + out + err
    assert "Kite refused this login's request token" in console and "Still waiting: open " in console
    assert "Logged in as ZP0001 (Paper Trader); the token is stored encrypted." in console
    assert "Traceback" not in err
    for secret in (stored_token(env), "papersecret", "paperkey", KEY):
        assert secret not in console


def test_a_wrong_api_key_keeps_the_stored_login_and_names_the_mismatch(env, tmp_path, world):
    process = start(env, "--no-browser", cwd=tmp_path)
    Browser()(wait_for_link(process)[0])
    assert process.wait(timeout=30) == 0
    token = stored_token(env)
    typo = {**env, "KITE_API_KEY": "paperkee"}
    with pytest.raises(TokenException) as refused:  # Kite's answer to a token sent with another key
        KiteConnect("paperkee", access_token=token, root=world.paper.url).profile()
    assert refused.value.code == 403
    listed = run(typo, "--list", cwd=tmp_path)
    exported = run(typo, "--export", str(tmp_path / "t.json"), "--quiet", cwd=tmp_path)
    for result in (listed, exported):
        assert result.returncode == 2, result.stdout + result.stderr
        assert "the API key does not match the stored login of ZP0001" in result.stderr
        assert "check KITE_API_KEY" in result.stderr
        assert "expired" not in result.stdout + result.stderr and "deleted" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        for secret in (token, "paperkee", "papersecret", KEY):
            assert secret not in result.stdout + result.stderr
    assert not (tmp_path / "t.json").exists()
    assert stored_token(env) == token  # kept
    again = run(env, "--list", cwd=tmp_path)  # the key fixed: the same login works
    assert again.returncode == 0 and "ZP0001  Paper Trader" in again.stdout and "valid" in again.stdout
    exported = run(env, "--export", str(tmp_path / "t.json"), "--quiet", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
