"""scripts/rebalance_portfolio.py as a user runs it: paper, dry run, live with confirmation."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from niftybaskets.config import Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.store import Store

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / "scripts" / "rebalance_portfolio.py"
SAMPLE = REPOSITORY / "examples" / "sample_basket.json"
KEY = Fernet.generate_key().decode()


def run(*args, env_extra=None, tmp_path, stdin="", timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITE_", "ENCRYPTION_", "DATA_", "GITHUB_"))}
    env.update({"DATA_DIR": str(tmp_path / "data"), **(env_extra or {})})
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_paper_run_reports_to_console_json_job_summary_and_audit(tmp_path):
    summary = tmp_path / "summary.md"
    report = tmp_path / "report.json"
    result = run(
        str(SAMPLE),
        "--paper",
        "--quiet",
        "--report-json",
        str(report),
        tmp_path=tmp_path,
        env_extra={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["mode"] == "live" and data["user_id"] == "ZP0001"
    assert data["deficit"]["after"] < data["deficit"]["before"]
    orders = [order for p in data["passes"] for order in p["orders"]]
    assert orders and all(order["order_id"] for order in orders if order["status"] == "COMPLETE")
    assert "| KPITTECH |" in summary.read_text()
    with sqlite3.connect(tmp_path / "data" / "paper" / "rebalance-audit.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM rebalance_orders").fetchone()[0] == len(orders) - sum(
            1 for order in orders if order["status"] == "NOT SENT"
        )
        assert db.execute("SELECT report FROM rebalance_runs").fetchone()[0]
    again = run(str(SAMPLE), "--paper", "--quiet", tmp_path=tmp_path)
    assert again.returncode == 0 and "Pass 1" not in again.stdout  # the saved paper account is already there


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["absent.json"], "no basket file"),
        (["bad.json"], "not valid JSON"),
        (["inside.json", "--basket-root", "docs/baskets"], "outside docs/baskets"),
        (["inside.json", "--paper-reset"], "--paper-reset goes with --paper"),
        (["inside.json", "--min-order-value", "inf"], "not a number of rupees"),
        (["inside.json", "--fill-timeout", "nan"], "--fill-timeout must be above 0"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "inside.json").write_text('{"weights": {"A": 1}}')
    (tmp_path / "docs" / "baskets").mkdir(parents=True)
    paper = [] if "--paper-reset" in args or "--paper" in args else ["--paper"]
    result = run(*args, *paper, tmp_path=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_quiet_without_a_login_exits_2_with_the_command(tmp_path):
    result = run(str(SAMPLE), "--quiet", tmp_path=tmp_path, env_extra={"KITE_API_KEY": "k", "ENCRYPTION_KEY": KEY})
    assert result.returncode == 2
    assert "Log in first: python3 scripts/kite_login.py" in result.stderr


@pytest.fixture
def logged_in(make_paper, tmp_path):
    """Two family logins stored for the paper exchange playing Kite (it trades around the clock)."""
    paper = make_paper(
        rules={"market_hours": False, "token_expiry": False},
        accounts=[{"user_id": "ZP0002", "api_key": "paperkey", "api_secret": "papersecret", "cash": 50000}],
    )
    settings = Settings(
        _env_file=None, kite_api_key="paperkey", kite_api_root=paper.url, encryption_key=KEY, data_dir=tmp_path / "data"
    )
    store = Store(settings.store_path)
    sessions = Sessions(settings, store, fernet_from_key(KEY))
    for user_id in ("ZP0002", "ZP0001"):
        kite = paper.embedded.login(user_id)
        sessions.save(KiteSession(user_id, "Paper", kite.access_token, "2026-11-23T09:00:00+05:30"))
    store.close()
    basket = tmp_path / "basket.json"
    basket.write_text(json.dumps({"weights": {"SBIN": 0.5, "IDEA": 0.5}}))
    env = {"KITE_API_KEY": "paperkey", "KITE_API_ROOT": paper.url, "ENCRYPTION_KEY": KEY}
    return paper, basket, env


def test_a_dry_run_reads_the_real_account_and_sends_nothing(logged_in, tmp_path):
    paper, basket, env = logged_in
    result = run(str(basket), "--quiet", tmp_path=tmp_path, env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "Using ZP0001" in result.stdout and "dry run: nothing was sent" in result.stdout
    assert paper.kite.orders() == []


def test_live_asks_for_confirm_and_stops_without_it(logged_in, tmp_path):
    paper, basket, env = logged_in
    refused = run(
        str(basket), "--live", "--user-id", "ZP0001", "--no-wait", tmp_path=tmp_path, env_extra=env, stdin="yes\n"
    )
    assert refused.returncode == 1 and "not confirmed; nothing was sent" in refused.stderr
    assert paper.kite.orders() == []
    done = run(
        str(basket), "--live", "--user-id", "ZP0001", "--no-wait", tmp_path=tmp_path, env_extra=env, stdin="CONFIRM\n"
    )
    assert done.returncode == 0, done.stderr
    assert {o["tradingsymbol"] for o in paper.kite.orders()} == {"INFY", "TCS", "SBIN", "IDEA"}


def test_all_users_rebalances_each_logged_in_account(logged_in, tmp_path):
    paper, basket, env = logged_in
    result = run(str(basket), "--live", "--all-users", "--quiet", "--no-wait", tmp_path=tmp_path, env_extra=env)
    assert result.returncode == 0, result.stderr
    assert "of ZP0001" in result.stdout and "of ZP0002" in result.stdout
    spouse = paper.embedded.login("ZP0002")
    assert {o["tradingsymbol"] for o in spouse.orders()} == {"SBIN", "IDEA"}
