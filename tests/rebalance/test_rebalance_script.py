"""scripts/rebalance_portfolio.py as a user runs it: paper, dry run, live with confirmation. Each option
is tried in-process through main(argv); one run goes through the script itself."""

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from niftybaskets.cli.rebalance_portfolio import main
from niftybaskets.config import Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.store import TokenStore

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


@pytest.fixture
def rebalance(tmp_path, monkeypatch, capsys):
    """main(argv) in this process, in a clean environment in tmp_path: (exit code, stdout, stderr)."""
    for name in list(os.environ):
        if name.startswith(("KITE_", "ENCRYPTION_", "DATA_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)

    def call(*args, env=None, stdin=""):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "stdin", stdin if not isinstance(stdin, str) else io.StringIO(stdin))
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


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
    assert data["mode"] == "paper" and data["user_id"] == "ZP0001"
    assert "(paper)" in result.stdout and "(live)" not in result.stdout
    assert data["deficit"]["after"] < data["deficit"]["before"]
    orders = [order for p in data["passes"] for order in p["orders"]]
    assert orders and all(order["order_id"] for order in orders if order["status"] == "COMPLETE")
    assert "| KPITTECH |" in summary.read_text()
    with sqlite3.connect(tmp_path / "data" / "paper" / "rebalance-audit.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM rebalance_orders").fetchone()[0] == len(orders) - sum(
            1 for order in orders if order["status"] == "NOT SENT"
        )
        assert db.execute("SELECT mode, report FROM rebalance_runs").fetchone()[0] == "paper"
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
def test_bad_input_exits_2_and_sends_nothing(rebalance, tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "inside.json").write_text('{"weights": {"A": 1}}')
    (tmp_path / "docs" / "baskets").mkdir(parents=True)
    paper = [] if "--paper-reset" in args or "--paper" in args else ["--paper"]
    code, _, err = rebalance(*args, *paper)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_quiet_without_a_login_exits_2_with_the_command(rebalance):
    code, _, err = rebalance(SAMPLE, "--quiet", env={"KITE_API_KEY": "k", "ENCRYPTION_KEY": KEY})
    assert code == 2
    assert "Log in first: python3 scripts/kite_login.py" in err


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
    store = TokenStore(settings.store_path)
    sessions = Sessions(settings, store, fernet_from_key(KEY))
    for user_id in ("ZP0002", "ZP0001"):
        kite = paper.embedded.login(user_id)
        sessions.save(KiteSession(user_id, "Paper", kite.access_token, "2026-11-23T09:00:00+05:30"))
    store.close()
    basket = tmp_path / "basket.json"
    basket.write_text(json.dumps({"weights": {"SBIN": 0.5, "IDEA": 0.5}}))
    env = {"KITE_API_KEY": "paperkey", "KITE_API_ROOT": paper.url, "ENCRYPTION_KEY": KEY}
    return paper, basket, env


def test_a_dry_run_reads_the_real_account_and_sends_nothing(logged_in, rebalance):
    paper, basket, env = logged_in
    code, out, err = rebalance(basket, "--quiet", env=env)
    assert code == 0, err
    assert "Using ZP0001" in out and "dry run: nothing was sent" in out and "(dry-run)" in out
    assert paper.kite.orders() == []


def test_live_asks_for_confirm_and_stops_without_it(logged_in, rebalance):
    paper, basket, env = logged_in
    code, out, err = rebalance(basket, "--live", "--user-id", "ZP0001", "--no-wait", env=env, stdin="yes\n")
    assert code == 1 and "not confirmed; nothing was sent" in err
    assert "to Zerodha (live)" in out
    assert paper.kite.orders() == []
    code, out, err = rebalance(basket, "--live", "--user-id", "ZP0001", "--no-wait", env=env, stdin="CONFIRM\n")
    assert code == 0, err
    assert {o["tradingsymbol"] for o in paper.kite.orders()} == {"INFY", "TCS", "SBIN", "IDEA"}


def test_all_users_rebalances_each_logged_in_account(logged_in, rebalance):
    paper, basket, env = logged_in
    code, out, err = rebalance(basket, "--live", "--all-users", "--quiet", "--no-wait", env=env)
    assert code == 0, err
    assert "of ZP0001" in out and "of ZP0002" in out
    spouse = paper.embedded.login("ZP0002")
    assert {o["tradingsymbol"] for o in spouse.orders()} == {"SBIN", "IDEA"}


def report_of(path: Path) -> dict:
    return json.loads(path.read_text())


def test_help_names_the_environment_and_an_example(rebalance):
    code, out, _ = rebalance("--help")
    assert code == 0
    assert "KITE_API_KEY" in out and "ENCRYPTION_KEY" in out and "DATA_DIR" in out
    assert "python3 scripts/rebalance_portfolio.py" in out and "--paper" in out


def test_an_explicit_dry_run_on_the_paper_account_file_is_refused_without_a_login(rebalance):
    code, _, err = rebalance(SAMPLE, "--dry-run", "--quiet")
    assert code == 2 and "KITE_API_KEY is not set" in err


def test_a_target_deficit_above_the_account_sends_nothing(rebalance, tmp_path):
    code, _, err = rebalance(
        SAMPLE, "--paper", "--quiet", "--target-deficit", "100000000", "--report-json", tmp_path / "r.json"
    )
    assert code == 0, err
    report = report_of(tmp_path / "r.json")
    assert report["passes"] == [] and "at or under the target" in report["stop_reason"]


def test_a_minimum_order_value_above_every_order_sends_none(rebalance, tmp_path):
    code, _, err = rebalance(
        SAMPLE, "--paper", "--quiet", "--min-order-value", "10000000", "--report-json", tmp_path / "r.json"
    )
    assert code == 0, err
    orders = [order for record in report_of(tmp_path / "r.json")["passes"] for order in record["orders"]]
    assert all(order["status"] == "NOT SENT" for order in orders)


def test_max_passes_bounds_the_passes(rebalance, tmp_path):
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", "--max-passes", "1", "--report-json", tmp_path / "r.json")
    assert code == 0, err
    assert len(report_of(tmp_path / "r.json")["passes"]) == 1
    code, _, err = rebalance(SAMPLE, "--paper", "--max-passes", "11")
    assert code == 2 and "--max-passes must be from 1 to 10" in err


def test_paper_account_and_paper_reset_choose_the_paper_account(rebalance, tmp_path):
    account = tmp_path / "account.yaml"
    account.write_text(
        (REPOSITORY / "examples" / "paper_account.yaml").read_text().replace("user_id: ZP0001", "user_id: ZP0009")
    )
    report = tmp_path / "r.json"
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", "--paper-account", account, "--report-json", report)
    assert code == 0, err
    assert report_of(report)["user_id"] == "ZP0009" and report_of(report)["passes"]
    code, out, _ = rebalance(SAMPLE, "--paper", "--quiet", "--paper-account", account)
    assert code == 0 and "Pass 1" not in out  # the saved account is kept between runs
    code, out, _ = rebalance(SAMPLE, "--paper", "--quiet", "--paper-account", account, "--paper-reset")
    assert code == 0 and "Pass 1" in out  # back to the account file's holdings


class Interrupted(io.StringIO):
    def readline(self, *args):
        raise KeyboardInterrupt


def test_ctrl_c_at_the_confirmation_exits_130_and_sends_nothing(logged_in, rebalance):
    paper, basket, env = logged_in
    code, _, err = rebalance(basket, "--live", "--user-id", "ZP0001", "--no-wait", env=env, stdin=Interrupted())
    assert code == 130 and "orders already sent stay with Kite" in err
    assert paper.kite.orders() == []


def test_a_new_basket_is_traded_in_full_then_the_band_leaves_small_drift_alone(rebalance, tmp_path):
    report = tmp_path / "r.json"
    code, out, err = rebalance(SAMPLE, "--paper", "--quiet", "--report-json", report)
    assert code == 0, err
    assert "not been traded to this basket yet: trading to it in full" in out
    first = report_of(report)
    assert first["passes"] and first["charges"]["estimated"] > 0
    assert first["charges"]["percent_of_traded"] > 0.1  # STT alone is 0.1% of the value traded
    assert "charges ₹" in out
    code, out, err = rebalance(SAMPLE, "--paper", "--quiet", "--drift-band", "50", "--report-json", report)
    assert code == 0, err
    again = report_of(report)
    assert again["passes"] == [] and "nothing to do" in again["stop_reason"]
    assert again["skipped"] and all(trade["reason"] == "within the drift band" for trade in again["skipped"])
    assert "skipped: within the drift band" in out


def test_no_band_and_no_cost_weight_trade_as_before(rebalance, tmp_path):
    report = tmp_path / "r.json"
    assert rebalance(SAMPLE, "--paper", "--quiet", "--max-passes", "1")[0] == 0
    code, _, err = rebalance(
        SAMPLE, "--paper", "--quiet", "--drift-band", "0", "--cost-weight", "0", "--report-json", report
    )
    assert code == 0, err
    assert report_of(report)["skipped"] == []


def test_keep_leaves_a_holding_untouched_and_outside_the_total(rebalance, tmp_path):
    report = tmp_path / "r.json"
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", "--keep", "irctc", "--report-json", report)
    assert code == 0, err
    data = report_of(report)
    orders = [order for record in data["passes"] for order in record["orders"]]
    assert orders and all(order["symbol"] != "IRCTC" for order in orders)
    assert any(order["symbol"] == "TATASTEEL" for order in orders)  # not kept: sold
    assert "IRCTC" not in {stock["symbol"] for stock in data["stocks"]}
    # Cash, CDSL and TATASTEEL: IRCTC's 40 shares are not counted.
    assert data["total_value"] == pytest.approx(500000 + 60 * 1512.40 + 50 * 158.35)


def test_keep_refuses_a_basket_stock(rebalance):
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", "--keep", "CDSL")
    assert code == 2 and "--keep names CDSL, which the basket holds" in err


def test_capital_bounds_what_the_basket_holds_and_leaves_the_rest_of_the_cash(rebalance, tmp_path):
    report = tmp_path / "r.json"
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", "--capital", "200000", "--report-json", report)
    assert code == 0, err
    data = report_of(report)
    assert sum(stock["target_value"] for stock in data["stocks"]) == pytest.approx(200000, abs=1)
    bought = sum(
        order["filled"] * order["average_price"]
        for record in data["passes"]
        for order in record["orders"]
        if order["side"] == "BUY"
    )
    assert 0 < bought <= 200000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drift-band", "101"], "not a percentage from 0 to 100"),
        (["--drift-band", "-1"], "not a number of rupees"),
        (["--cost-weight", "nan"], "not a number of rupees"),
        (["--capital", "abc"], "not a number of rupees"),
        (["--capital", "0"], "not a capital: a number of rupees above 0"),
        (["--keep", "NOT A SYMBOL"], "is not an NSE symbol"),
    ],
)
def test_bad_cost_band_capital_or_keep_exit_2(rebalance, args, message):
    code, _, err = rebalance(SAMPLE, "--paper", "--quiet", *args)
    assert code == 2 and message in err
