"""scripts/doctor.py against fakes of every outside service, in-process through main([...]) and once as
a program: each line passes and fails, the exit codes 0/1/2, every option, and never a secret in the output."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from niftybaskets.cli.doctor import main
from niftybaskets.config import Settings
from niftybaskets.doctor import Options, check_python, run_checks
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.sessions import KiteSession, Sessions
from niftybaskets.store import TokenStore
from niftybaskets.webserver import BackgroundServer
from tests.conftest import BASE_ACCOUNT
from tests.fakes.gemini import FakeGemini, answer, error
from tests.fakes.github import FakeGitHub
from tests.fakes.niftyindices import FakeNiftyIndices, constituent_csv
from tests.fakes.nse import FakeNse, index_row, quote_payload
from tests.fakes.yahoo import FakeYahoo

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPT = REPOSITORY / "scripts" / "doctor.py"
KEYS = ["AIzaDoctorTestKeyNumberOne0000000000", "AIzaDoctorTestKeyNumberTwo0000000000"]
GH_TOKEN = "ghp_doctorTestToken0123456789"
ENCRYPTION_KEY = Fernet.generate_key().decode()
STOCKS = {"RELIANCE": 1300.0, "TCS": 3500.0, "INFY": 1500.0}
SETTINGS_NAMES = [
    "KITE_API_KEY",
    "KITE_API_SECRET",
    "KITE_API_ROOT",
    "KITE_ACCESS_TOKEN",
    "KITE_LOGIN_URL",
    "ENCRYPTION_KEY",
    "GEMINI_API_KEYS",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "GEMINI_MODEL",
    "NSE_BASE_URL",
    "NIFTY_INDICES_BASE_URL",
    "YAHOO_BASE_URL",
    "MARKET_DATA_SOURCES",
    "DATA_DIR",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "INDEX",
    "NSE_EXTRA_HOLIDAYS",
]


@dataclass
class World:
    nse: FakeNse
    niftyindices: FakeNiftyIndices
    yahoo: FakeYahoo
    gemini: FakeGemini
    github: FakeGitHub
    paper: object
    env: dict[str, str]
    access_token: str

    def secrets(self) -> list[str]:
        return [*KEYS, GH_TOKEN, ENCRYPTION_KEY, self.access_token, "papersecret"]


def gemini_answers(call):
    return answer("OK")


@pytest.fixture
def make_world(tmp_path, make_paper, monkeypatch):
    servers = []

    def serve(app) -> str:
        server = BackgroundServer(app)
        server.start()
        servers.append(server)
        return server.url

    def make(**paper_overrides) -> World:
        nse = FakeNse()
        nse.indices["NIFTY 50"] = [index_row(symbol, price) for symbol, price in STOCKS.items()]
        for symbol, price in STOCKS.items():
            nse.quotes[symbol] = quote_payload(symbol, price, price, str(price * 0.9), str(price * 1.1))
        nse.actions["RELIANCE"] = [("28-Oct-2024", "Bonus 1:1")]
        niftyindices = FakeNiftyIndices()
        niftyindices.publish("NIFTY 50", constituent_csv([(f"{s} Ltd", "Energy", s) for s in STOCKS]))
        yahoo = FakeYahoo()
        yahoo.last_prices["RELIANCE.NS"] = (1301.0, 1290.0)
        gemini = FakeGemini(gemini_answers)
        github = FakeGitHub(token=GH_TOKEN)
        account = {"prices": {**BASE_ACCOUNT["prices"], **STOCKS}, **paper_overrides}
        paper = make_paper(**account)
        github.url = serve(github.app)
        env = {
            "NSE_BASE_URL": serve(nse.app),
            "NIFTY_INDICES_BASE_URL": serve(niftyindices.app) + "/IndexConstituent",
            "YAHOO_BASE_URL": serve(yahoo.app),
            "GEMINI_BASE_URL": serve(gemini.app),
            "GEMINI_API_KEYS": ",".join(KEYS),
            "KITE_API_KEY": "paperkey",
            "KITE_API_SECRET": "papersecret",
            "KITE_API_ROOT": paper.url,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
            "DATA_DIR": str(tmp_path / "data"),
            "GH_TOKEN": GH_TOKEN,
            "GITHUB_REPOSITORY": github.repository,
            "GITHUB_API_URL": github.url,
        }
        store = TokenStore(tmp_path / "data" / "niftybaskets.sqlite")
        settings = Settings(_env_file=None, kite_api_key="paperkey", kite_api_root=paper.url)
        session = KiteSession("ZP0001", "Paper Trader", paper.kite.access_token, "2026-11-23T09:00:00+05:30")
        Sessions(settings, store, fernet_from_key(ENCRYPTION_KEY), say=lambda _: None).save(session)
        store.close()
        for name in SETTINGS_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)  # no .env here
        return World(nse, niftyindices, yahoo, gemini, github, paper, env, paper.kite.access_token)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def world(make_world) -> World:
    return make_world()


def doctor(capsys, world: World, *args: str) -> tuple[int, str, str]:
    code = main(["--timeout", "10", *args])
    out, err = capsys.readouterr()
    for secret in world.secrets():
        assert secret not in out and secret not in err, "a secret reached the output"
    return code, out, err


def line(out: str, label: str) -> str:
    """The line of a check, with its next step when it has one."""
    lines = out.splitlines()
    for number, text in enumerate(lines):
        if text[2:].startswith(label + " "):
            follow = lines[number + 1] if number + 1 < len(lines) and lines[number + 1].startswith("    → ") else ""
            return f"{text}\n{follow}".rstrip()
    raise AssertionError(f"no line {label!r} in:\n{out}")


def test_everything_answers_every_line_passes_and_exit_0(capsys, world):
    code, out, _ = doctor(capsys, world)
    assert code == 0, out
    for label in (
        "Python",
        "Pinned packages",
        "ENCRYPTION_KEY",
        "NSE index list",
        "NSE quote",
        "NSE equity history",
        "NSE index history",
        "NSE corporate actions",
        "NSE Indices constituent file",
        "Yahoo quote",
        "Yahoo daily history",
        "Kite login",
        "Kite market data (ltp)",
        "Kite historical data",
        "Gemini key #1",
        "Gemini key #2",
        "GitHub",
    ):
        assert line(out, label).startswith("✓"), line(out, label)
    assert "NIFTY 50: 3 stocks" in line(out, "NSE index list")
    assert "RELIANCE ₹1,300.00" in line(out, "NSE quote")
    assert "RELIANCE.NS ₹1,301.00" in line(out, "Yahoo quote")
    assert "RELIANCE: 1 corporate action listed" in line(out, "NSE corporate actions")
    assert "logged in as …01" in line(out, "Kite login") and "ZP0001" not in out
    assert "NSE:RELIANCE ₹1,300.00" in line(out, "Kite market data (ltp)")
    assert "gemini-" in line(out, "Gemini key #1")
    assert "owner/niftybaskets" in line(out, "GitHub")
    assert "The main job can run (exit 0)" in out
    assert {call.key for call in world.gemini.calls} == set(KEYS)  # each key asked once, with the ping
    assert world.paper.kite.orders() == []  # never an order


def test_json_is_one_document_with_every_check(capsys, world):
    code, out, _ = doctor(capsys, world, "--json")
    document = json.loads(out)
    assert code == 0 and document["exit_code"] == 0 and document["verdict"] == "ok" and document["reasons"] == []
    assert document["index"] == "NIFTY 50" and document["symbol"] == "RELIANCE"
    checks = {check["id"]: check for check in document["checks"]}
    assert set(checks) == {
        "python.version",
        "python.packages",
        "encryption",
        "nse.index",
        "nse.quote",
        "nse.equity_history",
        "nse.index_history",
        "nse.corporate_actions",
        "niftyindices.index",
        "yahoo.quote",
        "yahoo.history",
        "kite.login",
        "kite.ltp",
        "kite.historical",
        "gemini.key1",
        "gemini.key2",
        "github",
    }
    quote = checks["nse.quote"]
    assert set(quote) == {"id", "group", "label", "status", "detail", "next_step", "need", "misconfigured", "seconds"}
    assert quote["status"] == "ok" and quote["group"] == "nse" and quote["need"] == "prices"


def test_nse_down_while_nse_indices_and_yahoo_answer_still_exits_0(capsys, world):
    world.nse.failing = True
    world.nse.blocking_history = True
    code, out, _ = doctor(capsys, world, "--only", "nse,niftyindices,yahoo,gemini")
    assert code == 0, out
    index_list = line(out, "NSE index list")
    assert index_list.startswith("✗") and "HTTP 503" in index_list
    assert "→ NSE blocks some networks" in index_list
    history = line(out, "NSE equity history")
    assert history.startswith("✗") and "Access Denied" in history
    assert line(out, "NSE Indices constituent file").startswith("✓")
    assert line(out, "Yahoo quote").startswith("✓")
    assert "Kite" not in out and "GitHub" not in out


def test_no_source_of_index_lists_exits_1(capsys, world):
    world.nse.failing = True
    world.niftyindices.files.clear()
    code, out, _ = doctor(capsys, world, "--only", "nse,niftyindices,yahoo,gemini")
    assert code == 1, out
    missing = line(out, "NSE Indices constituent file")
    assert missing.startswith("✗") and "publishes no ind_nifty50list.csv" in missing
    assert "→ check the index name (--index)" in missing
    assert "A needed service fails (exit 1): no source of index lists answers" in out


def test_no_source_of_prices_exits_1(capsys, make_world):
    world = make_world(rules={"market_data": False})
    world.nse.failing = True
    world.yahoo.limited = True
    code, out, _ = doctor(capsys, world, "--only", "nse.quote,yahoo.quote,kite")
    assert code == 1, out
    yahoo = line(out, "Yahoo quote")
    assert yahoo.startswith("✗") and "HTTP 429" in yahoo and "→ Yahoo limits busy clients" in yahoo
    assert line(out, "Kite market data (ltp)").startswith("✗")
    assert "no source of prices answers" in out


def test_a_kite_plan_without_market_or_historical_data_is_shown_but_not_fatal(capsys, make_world):
    world = make_world(rules={"market_data": False, "historical_data": False})
    code, out, _ = doctor(capsys, world, "--only", "kite,nse.quote")
    assert code == 0, out
    assert line(out, "Kite login").startswith("✓")
    ltp = line(out, "Kite market data (ltp)")
    assert ltp.startswith("✗") and "no market data" in ltp and "→ prices come from MARKET_DATA_SOURCES" in ltp
    historical = line(out, "Kite historical data")
    assert historical.startswith("✗") and "no historical data" in historical
    assert "→ the scored ledger uses NSE's and Yahoo's history instead" in historical
    code, out, _ = doctor(capsys, world, "--only", "kite.login,kite.ltp,nse.quote")  # as the rebalance job asks
    assert code == 0 and "Kite market data (ltp)" in out and "Kite historical data" not in out


def test_no_stored_kite_login_exits_1_with_the_login_command(capsys, world, tmp_path):
    store = TokenStore(tmp_path / "data" / "niftybaskets.sqlite")
    store.delete_token("ZP0001")
    store.close()
    code, out, _ = doctor(capsys, world, "--only", "kite,nse.quote")
    assert code == 1, out
    login = line(out, "Kite login")
    assert login.startswith("✗") and "no valid Kite login" in login
    assert "→ log in this morning: python3 scripts/kite_login.py" in login
    assert line(out, "Kite market data (ltp)").startswith("–")


def test_kite_not_configured_is_a_dash_with_how_to_set_it(capsys, world, monkeypatch):
    monkeypatch.delenv("KITE_API_KEY")
    monkeypatch.delenv("ENCRYPTION_KEY")
    code, out, _ = doctor(capsys, world)
    assert code == 0, out  # the research can run
    login = line(out, "Kite login")
    assert login.startswith("–") and "KITE_API_KEY is not set" in login and "ENCRYPTION_KEY is not set" in login
    assert line(out, "ENCRYPTION_KEY").startswith("–")


def test_neither_gemini_nor_kite_configured_exits_2(capsys, world, monkeypatch):
    monkeypatch.delenv("KITE_API_KEY")
    monkeypatch.delenv("GEMINI_API_KEYS")
    code, out, _ = doctor(capsys, world)
    assert code == 2, out
    assert line(out, "Gemini").startswith("–") and "GEMINI_API_KEYS is not set" in line(out, "Gemini")
    assert "no Gemini key (research) and no Kite set-up (rebalance)" in out


def test_only_an_unconfigured_service_selected_exits_2_and_exit_zero_only_reports(capsys, world, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEYS")
    code, out, _ = doctor(capsys, world, "--only", "gemini")
    assert code == 2 and "Gemini is not configured" in out
    code, out, _ = doctor(capsys, world, "--only", "gemini", "--exit-zero")
    assert code == 0 and "(exit 2, 0 with --exit-zero)" in out


def test_kite_api_key_without_encryption_key_exits_2(capsys, world, monkeypatch):
    monkeypatch.delenv("ENCRYPTION_KEY")
    code, out, _ = doctor(capsys, world, "--only", "kite,encryption")
    assert code == 2, out
    assert line(out, "Kite login").startswith("✗") and "→ ENCRYPTION_KEY is not set: generate one" in out


def test_a_malformed_encryption_key_exits_2(capsys, world, monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KEY", "not-a-fernet-key")
    code, out, _ = doctor(capsys, world, "--only", "encryption,nse.quote")
    assert code == 2, out
    assert line(out, "ENCRYPTION_KEY").startswith("✗") and "not a Fernet key" in out
    assert "not-a-fernet-key" not in out


def test_a_refused_gemini_key_is_named_by_number_and_another_key_keeps_exit_0(capsys, world):
    world.gemini.respond = lambda call: (
        error(400, "API key not valid. Please pass a valid API key.") if call.key == KEYS[1] else answer("OK")
    )
    code, out, _ = doctor(capsys, world, "--only", "gemini")
    assert code == 0, out
    assert line(out, "Gemini key #1").startswith("✓")
    refused = line(out, "Gemini key #2")
    assert refused.startswith("✗") and "Gemini refuses key #2" in refused
    assert "→ replace key #2 in GEMINI_API_KEYS" in refused


def test_every_gemini_key_failing_exits_1_with_each_reason(capsys, world):
    world.gemini.fail(KEYS[0], 429)
    world.gemini.fail(KEYS[1], 503)
    code, out, _ = doctor(capsys, world, "--only", "gemini")
    assert code == 1, out
    assert "rate-limited or out of quota" in line(out, "Gemini key #1")
    assert "→ wait for the quota to come back" in line(out, "Gemini key #1")
    assert "503" in line(out, "Gemini key #2") and "→ Gemini is busy or down" in line(out, "Gemini key #2")
    assert "no Gemini key works" in out


def test_a_check_slower_than_the_timeout_fails_with_its_next_step(capsys, world):
    world.gemini.latency = 3.0
    code = main(["--timeout", "1", "--only", "gemini,nse.quote"])
    out, _ = capsys.readouterr()
    assert code == 1, out
    assert "no answer within 1 s" in line(out, "Gemini key #1") and "→ Gemini is slow" in line(out, "Gemini key #1")
    assert line(out, "NSE quote").startswith("✓")


def test_github_refusing_the_token_exits_1_and_no_token_is_a_dash(capsys, world, monkeypatch):
    world.github.token = "another-token"
    code, out, _ = doctor(capsys, world, "--only", "github")
    assert code == 1, out
    refused = line(out, "GitHub")
    assert refused.startswith("✗") and "401" in refused and "→ give the token access" in refused
    monkeypatch.delenv("GH_TOKEN")
    code, out, _ = doctor(capsys, world, "--only", "github")
    assert code == 0 and line(out, "GitHub").startswith("–")


def test_an_old_python_and_a_missing_package_are_configuration(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pins\nrequests==0.0.1\nno-such-package-here==1.0\n")
    python, packages = check_python((3, 10, 4), requirements)
    assert python.status == "fail" and python.misconfigured and "3.10.4 is older than 3.11" in python.detail
    assert packages.status == "fail" and packages.misconfigured
    assert "not installed: no-such-package-here" in packages.detail and "requests" in packages.detail
    assert "pip install -r requirements.txt" in packages.next_step
    requirements.write_text("requests==0.0.1\n")
    [_, other_version] = check_python((3, 11, 0), requirements)
    assert other_version.status == "fail" and other_version.need is None  # shown, but the job can run


def test_a_source_left_out_of_market_data_sources_is_a_dash(capsys, world, monkeypatch):
    monkeypatch.setenv("MARKET_DATA_SOURCES", "niftyindices,yahoo")
    code, out, _ = doctor(capsys, world, "--only", "nse,niftyindices,yahoo")
    assert code == 0, out
    assert line(out, "NSE quote").startswith("–") and "not in MARKET_DATA_SOURCES" in out
    assert world.nse.api_calls == []


def test_a_bad_setting_exits_2_with_the_message(capsys, world, monkeypatch):
    monkeypatch.setenv("NSE_EXTRA_HOLIDAYS", "someday")
    code, out, err = doctor(capsys, world)
    assert code == 2 and "NSE_EXTRA_HOLIDAYS" in err and out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nse,bloomberg"], "unknown check bloomberg"),
        (["--symbol", "RELIANCE;rm"], "is not an NSE symbol"),
        (["--timeout", "0"], "'0' is not a number of seconds above 0 and at most 600"),
        (["--timeout", "601"], "'601' is not a number of seconds"),
    ],
)
def test_a_bad_option_is_a_usage_error(capsys, world, args, message):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""
    assert world.nse.api_calls == [] and world.gemini.calls == []  # nothing was checked


def test_index_and_symbol_choose_what_is_asked(capsys, world, monkeypatch):
    world.nse.indices["NIFTY NEXT 50"] = [index_row("TCS", 3500.0)]
    code, out, _ = doctor(capsys, world, "--only", "nse.index,nse.quote", "--index", "NIFTY NEXT 50", "--symbol", "tcs")
    assert code == 0, out
    assert "Checking the set-up (index NIFTY NEXT 50, stock TCS):" in out
    assert "NIFTY NEXT 50: 1 stock" in line(out, "NSE index list") and "TCS ₹3,500.00" in line(out, "NSE quote")
    monkeypatch.setenv("INDEX", "NIFTY NEXT 50")  # what the workflows set
    code, out, _ = doctor(capsys, world, "--only", "nse.index")
    assert code == 0 and "NIFTY NEXT 50: 1 stock" in line(out, "NSE index list")


def test_a_bad_setting_with_json_is_still_one_document_and_exit_zero_only_reports(capsys, world, monkeypatch):
    monkeypatch.setenv("NSE_EXTRA_HOLIDAYS", "someday")
    code, out, _ = doctor(capsys, world, "--json")
    document = json.loads(out)
    assert code == 2 and document["verdict"] == "misconfigured" and document["exit_code"] == 2
    assert "NSE_EXTRA_HOLIDAYS" in document["reasons"][0] and document["checks"] == []
    code, _, err = doctor(capsys, world, "--exit-zero")
    assert code == 0 and "NSE_EXTRA_HOLIDAYS" in err


def test_help_version_and_verbose(capsys, world):
    code, out, _ = doctor(capsys, world, "--help")
    assert code == 0 and "2  configuration is missing or wrong" in out
    assert "GEMINI_API_KEYS" in out and "python3 scripts/doctor.py --only" in out and "130" in out
    code, out, _ = doctor(capsys, world, "--version")
    assert code == 0 and out.startswith("niftybaskets ")
    code, out, _ = doctor(capsys, world, "-v", "--only", "nse.quote")
    assert code == 0 and "✓ NSE quote" in out


def test_the_library_returns_results_and_prints_nothing(capsys, world):
    settings = Settings(_env_file=None)
    report = run_checks(settings, Options(only={"nse.index", "yahoo.history"}, timeout=10))
    assert [each.id for each in report.results] == ["nse.index", "yahoo.history"]
    assert report.results[0].status == "ok" and report.verdict == "ok"
    assert world.yahoo.calls and not world.nse.history_calls
    assert capsys.readouterr() == ("", "")


def test_the_script_runs_as_a_program(world, tmp_path):
    env = {**world.env, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "python,nse,yahoo.quote,gemini,kite", "--timeout", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ NSE index list" in done.stdout and "The main job can run (exit 0)" in done.stdout
    for secret in world.secrets():
        assert secret not in done.stdout + done.stderr
