"""score_ledger.py as a user runs it: against the fake NSE and Yahoo, with the exit codes the README
gives; each option in-process through main(), and one run as a process."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from niftybaskets.cli.score_ledger import main
from tests.ledger.conftest import INDEX, INDEX_ROWS, STOCKS
from tests.ledger.test_ledger import FIRST_INDEX, FIRST_RETURNS
from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[2]
PAGE = Path("performance") / "nifty-smallcap-250.md"
NUMBERS = Path("performance") / "nifty-smallcap-250.json"


def test_score_ledger_as_a_process_writes_the_page(world):
    world.trade_on(date(2025, 9, 8))  # the script runs on today's clock: every basket has closed
    env = {
        **os.environ,
        "DOCS_DIR": str(world.docs),
        "DATA_DIR": str(world.data),
        "NSE_BASE_URL": world.url,
        "YAHOO_BASE_URL": world.yahoo_url,
    }
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "score_ledger.py"), "--index", INDEX],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr
    assert "NIFTY SMALLCAP 250: 3 baskets, 3 scored; ₹1 lakh following them is ₹" in result.stdout
    assert (world.docs / PAGE).is_file()


# -- in-process: every option through main() -------------------------------------------------


@pytest.fixture
def scoring(world, monkeypatch, tmp_path):
    """The script's settings pointing at the world's fakes, run from an empty folder (no .env)."""
    for name in list(os.environ):
        if name.startswith(("KITE_", "ENCRYPTION_", "DATA_", "DOCS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOCS_DIR", str(world.docs))
    monkeypatch.setenv("DATA_DIR", str(world.data))
    monkeypatch.setenv("NSE_BASE_URL", world.url)
    monkeypatch.setenv("YAHOO_BASE_URL", world.yahoo_url)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    world.trade_on(date(2025, 9, 8))
    return world


def score_ledger(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    said = capsys.readouterr()
    return status, said.out, said.err


def yahoo_knows_the_prices(world) -> None:
    split_day = date(2025, 8, 20)
    for symbol, rows in STOCKS.items():  # Yahoo's prices are adjusted: ALPHA's before its 1:2 split halved
        world.yahoo.history[f"{symbol}.NS"] = {
            day: (open_ / 2, close / 2) if symbol == "ALPHA" and day < split_day else (open_, close)
            for day, (open_, close, _) in rows.items()
        }
    world.yahoo.history["NIFTYSMLCAP250.NS"] = dict(INDEX_ROWS)


@pytest.mark.parametrize("index_option", ["--index", "-i"])
def test_score_ledger_writes_the_page_then_finds_nothing_new(scoring, capsys, index_option):
    status, out, _ = score_ledger(capsys, index_option, INDEX)
    assert status == 0
    assert "NIFTY SMALLCAP 250: 3 baskets, 3 scored; ₹1 lakh following them is ₹" in out
    assert "Updated 9 files" in out  # the page, its JSON, 3 charts, 3 basket pages, the index
    tree = scoring.tree()

    status, out, _ = score_ledger(capsys)
    assert status == 0
    assert "Asked nse 0 times" in out
    assert "Nothing changed: the published ledger is up to date." in out
    assert scoring.tree() == tree


def test_the_entry_option_buys_at_the_close(scoring, capsys):
    assert score_ledger(capsys, "--entry", "open")[0] == 0
    assert {basket["bought"]["at"] for basket in json.loads((scoring.docs / NUMBERS).read_text())["baskets"]} == {
        "open"
    }
    status, out, _ = score_ledger(capsys, "--entry", "close")
    assert status == 0 and "Updated" in out
    assert {basket["bought"]["at"] for basket in json.loads((scoring.docs / NUMBERS).read_text())["baskets"]} == {
        "close"
    }


def test_an_entry_other_than_open_or_close_exits_2(scoring, capsys):
    status, _, err = score_ledger(capsys, "--entry", "noon")
    assert status == 2 and "invalid choice: 'noon'" in err


def test_an_index_without_baskets_exits_2_naming_the_ones_there_are(scoring, capsys):
    status, _, err = score_ledger(capsys, "--index", "NIFTY 50")
    assert status == 2
    assert "no published baskets for NIFTY 50" in err and INDEX in err
    assert not (scoring.docs / "performance").exists()


def test_an_unknown_source_exits_2(scoring, capsys):
    status, _, err = score_ledger(capsys, "--source", "nse,bloomberg")
    assert status == 2
    assert "unknown price source bloomberg: choose from nse, yahoo, kite" in err


def test_nse_refusing_exits_1_with_what_to_do_and_no_traceback(scoring, capsys):
    scoring.nse.blocking_history = True
    before = scoring.tree()
    status, _, err = score_ledger(capsys)
    assert status == 1
    assert "NSE did not send the prices of" in err and "run again later" in err
    assert "No source sent the prices of ALPHA" in err  # Yahoo was asked next, and had none
    assert "Traceback" not in err
    assert scoring.tree() == before


def test_when_nse_refuses_yahoo_answers_and_the_ledger_names_it(scoring, capsys):
    scoring.nse.blocking_history = True
    yahoo_knows_the_prices(scoring)
    status, out, _ = score_ledger(capsys)
    assert status == 0
    assert "NSE did not send the prices of" in out and "Asking the next source" in out
    data = json.loads((scoring.docs / NUMBERS).read_text())
    assert data["prices"] == ["yahoo"]
    first = data["baskets"][0]
    assert {s["symbol"]: s["return"] for s in first["stocks"]} == pytest.approx(FIRST_RETURNS)
    assert first["index"]["return"] == pytest.approx(FIRST_INDEX)
    assert {row["source"] for s in first["stocks"] for row in s["rows"]} == {"yahoo"}
    assert "Yahoo Finance's daily history" in (scoring.docs / PAGE).read_text()


def test_the_source_option_asks_only_the_sources_named_in_its_order(scoring, capsys):
    yahoo_knows_the_prices(scoring)
    status, out, _ = score_ledger(capsys, "--source", "yahoo")
    assert status == 0 and "from yahoo ..." in out and "Asked yahoo" in out and "Asked nse" not in out
    assert json.loads((scoring.docs / NUMBERS).read_text())["prices"] == ["yahoo"]
    (scoring.data / "prices.sqlite").unlink()
    status, out, _ = score_ledger(capsys, "--source", " NSE , yahoo")
    assert status == 0 and "from nse, then yahoo ..." in out
    assert json.loads((scoring.docs / NUMBERS).read_text())["prices"] == ["nse"]


def test_market_data_sources_orders_the_default_sources(scoring, capsys, monkeypatch):
    yahoo_knows_the_prices(scoring)
    monkeypatch.setenv("MARKET_DATA_SOURCES", "yahoo,niftyindices,nse")
    status, out, _ = score_ledger(capsys)
    assert status == 0 and "from yahoo, then nse ..." in out


def test_kite_prices_without_the_app_key_exit_2_with_how_to_set_it(scoring, capsys):
    status, _, err = score_ledger(capsys, "--source", "kite")
    assert status == 2
    assert "KITE_API_KEY is not set" in err


def test_kite_prices_without_a_login_exit_2_saying_how_to_log_in(scoring, capsys, monkeypatch):
    monkeypatch.setenv("KITE_API_KEY", "appkey")
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    status, _, err = score_ledger(capsys, "--source", "kite")
    assert status == 2
    assert "no Kite login for the historical data: log in with" in err and "or use --source nse" in err


def test_verbose_scores_the_same(scoring, capsys):
    status, out, err = score_ledger(capsys, "-v")
    assert status == 0 and "3 scored" in out and "Traceback" not in err


def test_help_lists_the_settings_it_reads_with_examples(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("NSE_BASE_URL", "YAHOO_BASE_URL", "MARKET_DATA_SOURCES", "DOCS_DIR", "KITE_API_KEY"):
        assert name in out
    assert 'python3 scripts/score_ledger.py --index "NIFTY SMALLCAP 250" --entry close' in out


def pipeline_score(world, tmp_path) -> tuple[subprocess.CompletedProcess, Path]:
    summary = tmp_path / "summary.md"
    env = {
        **clean_environment(),
        "DOCS_DIR": str(world.docs),
        "DATA_DIR": str(world.data),
        "NSE_BASE_URL": world.url,
        "YAHOO_BASE_URL": world.yahoo_url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = subprocess.run(
        [sys.executable, "scripts/pipeline.py", "score"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, summary


def test_the_workflow_step_scores_and_a_refusing_nse_is_a_warning_not_a_failure(world, tmp_path):
    done, summary = pipeline_score(world, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (world.docs / PAGE).is_file()
    assert not summary.exists()

    world.nse.blocking_history = True
    (world.data / "prices.sqlite").unlink()
    done, summary = pipeline_score(world, tmp_path)
    assert done.returncode == 0
    assert "::warning::The scored ledger was not updated: score_ledger.py exited 1" in done.stdout
    assert "NSE did not send" in done.stderr
    assert "**Warning:** The scored ledger was not updated" in summary.read_text()
