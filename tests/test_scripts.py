"""The scripts as a user runs them: exit codes, messages, and a clean stop on Ctrl-C."""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from niftybaskets.paper.embedded import login

REPOSITORY = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPOSITORY,
    )


def test_a_bad_account_file_exits_2_with_the_problem(tmp_path):
    account = tmp_path / "account.yaml"
    account.write_text("cash: -1\n")
    result = run("paper_exchange.py", "--account", str(account), "--port", "0", "--db", str(tmp_path / "x.sqlite"))
    assert result.returncode == 2
    assert "error:" in result.stderr and "cash" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_exits_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("paper_exchange.py", "--port", str(port), "--db", str(tmp_path / "x.sqlite"))
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr


def test_a_bad_setting_exits_2(tmp_path):
    result = run("paper_exchange.py", "--port", "0", env={"NSE_EXTRA_HOLIDAYS": "someday"})
    assert result.returncode == 2
    assert "NSE_EXTRA_HOLIDAYS" in result.stderr


def test_the_exchange_serves_the_sdk_and_stops_cleanly_on_ctrl_c(tmp_path):
    account = tmp_path / "account.yaml"
    account.write_text("api_key: k\napi_secret: s\ncash: 1000\nrules: {market_hours: false}\n")
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "paper_exchange.py"),
            "--port",
            "0",
            "--account",
            str(account),
            "--db",
            str(tmp_path / "paper.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        url = re.search(r"listening on (http://\S+)", "".join(lines)).group(1)
        assert "seeded from the account file" in "".join(lines)
        assert login(url, "k", "s").margins("equity")["net"] == 1000
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Traceback" not in err and "CancelledError" not in err
    assert " s\n" not in "".join(lines) + out  # the secret is never echoed
