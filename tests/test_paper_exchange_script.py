"""scripts/paper_exchange.py's options, in-process through main([...]): it serves on --port 0 in this
(the main) thread, a second thread uses it through the kiteconnect SDK, then presses Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from niftybaskets.cli.paper_exchange import main
from niftybaskets.paper.embedded import login
from niftybaskets.webserver import BackgroundServer
from tests.conftest import buy
from tests.fakes.nse import FakeNse, quote_payload

ACCOUNT = "api_key: k\napi_secret: s\ncash: 10000\nprices: {INFY: 1500}\nrules: {market_hours: false}\n"


@pytest.fixture
def account(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "account.yaml"
    path.write_text(ACCOUNT)
    return path


def serve(monkeypatch, capsys, *args: str, use: Callable[[str], None] = lambda url: None) -> tuple[int, str, str]:
    """Run the script until it listens, `use(url)` on another thread, then Ctrl-C; (exit code, out, err)."""
    out = io.StringIO()  # read while the script runs
    monkeypatch.setattr(sys, "stdout", out)
    failures: list[BaseException] = []
    finished = threading.Event()

    def drive() -> None:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"listening on (http://\S+)", out.getvalue())):
            if finished.is_set() or time.monotonic() > deadline:
                return  # it never served: nothing to stop
            time.sleep(0.02)
        try:
            use(found.group(1))
        except BaseException as error:
            failures.append(error)
        finally:
            if not finished.is_set():
                os.kill(os.getpid(), signal.SIGINT)  # to the process, as a terminal sends it: the main thread gets it

    thread = threading.Thread(target=drive)
    thread.start()
    try:
        code = main(list(args))
    finally:
        finished.set()
        thread.join(30)
    if failures:
        raise failures[0]
    return code, out.getvalue(), capsys.readouterr().err


def run_script(capsys, *args: str) -> tuple[int, str, str]:
    """A run that ends by itself (a refusal, --help, --version)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_it_serves_the_paper_account_until_ctrl_c_which_exits_130(monkeypatch, capsys, account, tmp_path):
    margins = []
    code, out, err = serve(
        monkeypatch,
        capsys,
        *("--port", "0", "--paper-account", str(account), "--db", str(tmp_path / "x.sqlite")),
        use=lambda url: margins.append(login(url, "k", "s").margins("equity")["net"]),
    )
    assert code == 130 and margins == [10000]
    assert "paper account ZP0001: seeded from the account file" in out
    url = re.search(r"listening on (http://\S+)", out).group(1)
    assert f"point the project at it:  export KITE_API_ROOT={url}" in out and "stop it with Ctrl-C" in out
    assert err.endswith("paper exchange stopped.\n") and "Traceback" not in err
    assert " s\n" not in out  # the secret is never echoed


def test_the_old_account_spelling_still_works_and_the_database_keeps_the_accounts(
    monkeypatch, capsys, account, tmp_path
):
    db = str(tmp_path / "x.sqlite")
    seen: list[float] = []

    def trade(url: str) -> None:
        kite = login(url, "k", "s")
        buy(kite, "INFY", 2)
        seen.append(kite.margins("equity")["net"])

    def look(url: str) -> None:
        seen.append(login(url, "k", "s").margins("equity")["net"])

    assert serve(monkeypatch, capsys, "--port", "0", "--account", str(account), "--db", db, use=trade)[0] == 130
    code, out, _ = serve(monkeypatch, capsys, "--port", "0", "--paper-account", str(account), "--db", db, use=look)
    assert code == 130 and seen[1] == seen[0] < 10000  # the cash after the buy survived the restart
    assert "paper account ZP0001: resumed from the database" in out
    assert f"(cash and holdings of resumed accounts come from {db}; --reset seeds them again from {account})" in out
    code, out, _ = serve(monkeypatch, capsys, "--port", "0", "--account", str(account), "--db", db, "--reset", use=look)
    assert code == 130 and seen[2] == 10000
    assert "seeded from the account file" in out and "resumed" not in out


def test_the_database_defaults_to_data_dir_and_host_picks_the_address(monkeypatch, capsys, account, tmp_path):
    code, out, _ = serve(monkeypatch, capsys, "--host", "localhost", "--port", "0", "--paper-account", str(account))
    database = tmp_path / "data" / "paper" / "exchange.sqlite"
    assert code == 130 and f"(database {database})" in out and database.is_file()
    assert re.search(r"listening on http://localhost:\d+ ", out)


def test_live_prices_come_from_nse_at_start(monkeypatch, capsys, account, tmp_path):
    nse = FakeNse()
    nse.quotes["INFY"] = quote_payload("INFY", 1612.5, 1600.0, "1440.00", "1760.00")
    quoted = []
    with BackgroundServer(nse.app) as server:
        monkeypatch.setenv("NSE_BASE_URL", server.url)
        monkeypatch.setenv("MARKET_DATA_SOURCES", "nse")
        code, _, _ = serve(
            monkeypatch,
            capsys,
            *("--port", "0", "--paper-account", str(account), "--db", str(tmp_path / "x.sqlite")),
            *("--live-prices", "--refresh-seconds", "60"),
            use=lambda url: quoted.append(login(url, "k", "s").ltp("NSE:INFY")["NSE:INFY"]["last_price"]),
        )
    assert code == 130 and quoted == [1612.5]


def test_a_bad_account_file_exits_2_with_the_problem(capsys, account):
    account.write_text("cash: -1\n")
    code, out, err = run_script(capsys, "--paper-account", str(account), "--port", "0")
    assert code == 2 and "error:" in err and "cash" in err and out == ""
    assert "Traceback" not in err


def test_a_taken_port_exits_2(capsys, account):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_script(capsys, "--port", str(port), "--paper-account", str(account))
    assert code == 2
    assert f"127.0.0.1:{port} is already in use" in err and "(--port picks another)" in err


def test_a_bad_setting_exits_2(capsys, account, monkeypatch):
    monkeypatch.setenv("NSE_EXTRA_HOLIDAYS", "someday")
    code, _, err = run_script(capsys, "--port", "0", "--paper-account", str(account))
    assert code == 2 and "NSE_EXTRA_HOLIDAYS" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "65536"], "'65536' is not a port"),
        (["--port", "-1"], "is not a port"),
        (["--refresh-seconds", "5"], "must be at least 10 seconds (NSE blocks clients that poll faster)"),
        (["--refresh-seconds", "often"], "must be at least 10 seconds"),
    ],
)
def test_bad_options_are_usage_errors(capsys, account, args, message):
    code, out, err = run_script(capsys, *args)
    assert code == 2 and message in err and out == ""


def test_help_version_and_verbose(monkeypatch, capsys, account, tmp_path):
    code, out, _ = run_script(capsys, "--help")
    assert code == 0 and "--paper-account FILE, --account FILE" in out
    assert "DATA_DIR" in out and "python3 scripts/paper_exchange.py --port 0" in out and "130" in out
    code, out, _ = run_script(capsys, "--version")
    assert code == 0 and out.startswith("niftybaskets ")
    code, _, _ = serve(monkeypatch, capsys, "-v", "--port", "0", "--paper-account", str(account))
    assert code == 130
