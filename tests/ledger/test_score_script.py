"""scripts/score_ledger.py as a user runs it: against the fake NSE, with the exit codes the README gives."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.ledger.conftest import INDEX, INDEX_ROWS, STOCKS
from tests.ledger.test_ledger import FIRST_INDEX, FIRST_RETURNS
from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[2]


def score_ledger(world, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DOCS_DIR": str(world.docs),
        "DATA_DIR": str(world.data),
        "NSE_BASE_URL": world.url,
        "YAHOO_BASE_URL": world.yahoo_url,
        **settings,
    }
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "score_ledger.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPOSITORY,
    )


def test_score_ledger_writes_the_page_then_finds_nothing_new(world):
    world.trade_on(date(2025, 9, 8))  # the script runs on today's clock: every basket has closed
    result = score_ledger(world, "--index", INDEX)
    assert result.returncode == 0, result.stderr
    assert "NIFTY SMALLCAP 250: 3 baskets, 3 scored; ₹1 lakh following them is ₹" in result.stdout
    assert "Updated 9 files" in result.stdout  # the page, its JSON, 3 charts, 3 basket pages, the index
    assert (world.docs / "performance" / "nifty-smallcap-250.md").is_file()
    tree = world.tree()

    again = score_ledger(world)
    assert again.returncode == 0, again.stderr
    assert "Asked nse 0 times" in again.stdout
    assert "Nothing changed: the published ledger is up to date." in again.stdout
    assert world.tree() == tree

    closes = score_ledger(world, "--index", INDEX, "--entry", "close")
    assert closes.returncode == 0, closes.stderr
    ledger = json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())
    assert {basket["bought"]["at"] for basket in ledger["baskets"]} == {"close"}


def test_an_index_without_baskets_exits_2_naming_the_ones_there_are(world):
    result = score_ledger(world, "--index", "NIFTY 50")
    assert result.returncode == 2
    assert "no published baskets for NIFTY 50" in result.stderr and INDEX in result.stderr
    assert not (world.docs / "performance").exists()


def test_a_bad_option_exits_2(world):
    result = score_ledger(world, "--source", "nse,bloomberg")
    assert result.returncode == 2
    assert "unknown price source bloomberg: choose from nse, yahoo, kite" in result.stderr


def test_nse_refusing_exits_1_with_what_to_do_and_no_traceback(world):
    world.nse.blocking_history = True
    before = world.tree()
    result = score_ledger(world)
    assert result.returncode == 1
    assert "NSE did not send the prices of" in result.stderr and "run again later" in result.stderr
    assert "No source sent the prices of ALPHA" in result.stderr  # Yahoo was asked next, and had none
    assert "Traceback" not in result.stderr
    assert world.tree() == before


def test_kite_prices_without_the_app_key_exit_2_with_how_to_set_it(world):
    result = score_ledger(world, "--source", "kite", KITE_API_KEY="")
    assert result.returncode == 2
    assert "KITE_API_KEY is not set" in result.stderr


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
    assert (world.docs / "performance" / "nifty-smallcap-250.md").is_file()
    assert not summary.exists()

    world.nse.blocking_history = True
    (world.data / "prices.sqlite").unlink()
    done, summary = pipeline_score(world, tmp_path)
    assert done.returncode == 0
    assert "::warning::The scored ledger was not updated: score_ledger.py exited 1" in done.stdout
    assert "NSE did not send" in done.stderr
    assert "**Warning:** The scored ledger was not updated" in summary.read_text()


def test_when_nse_refuses_yahoo_answers_and_the_ledger_names_it(world):
    world.nse.blocking_history = True
    split_day = date(2025, 8, 20)
    for symbol, rows in STOCKS.items():  # Yahoo's prices are adjusted: ALPHA's before its 1:2 split halved
        world.yahoo.history[f"{symbol}.NS"] = {
            day: (open_ / 2, close / 2) if symbol == "ALPHA" and day < split_day else (open_, close)
            for day, (open_, close, _) in rows.items()
        }
    world.yahoo.history["NIFTYSMLCAP250.NS"] = dict(INDEX_ROWS)
    result = score_ledger(world)
    assert result.returncode == 0, result.stderr
    assert "NSE did not send the prices of" in result.stdout and "Asking the next source" in result.stdout
    data = json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())
    assert data["prices"] == ["yahoo"]
    first = data["baskets"][0]
    assert {s["symbol"]: s["return"] for s in first["stocks"]} == pytest.approx(FIRST_RETURNS)
    assert first["index"]["return"] == pytest.approx(FIRST_INDEX)
    assert {row["source"] for s in first["stocks"] for row in s["rows"]} == {"yahoo"}
    assert "Yahoo Finance's daily history" in (world.docs / "performance" / "nifty-smallcap-250.md").read_text()
