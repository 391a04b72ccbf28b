"""Hostile baskets and symbols through the scripts as a user runs them: exit 2 naming the problem
(escaped), no traceback, and nothing sent: the paper exchange is never even started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from niftybaskets.baskets import BasketError, load_basket, nse_symbol
from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[2]


def rebalance(tmp_path: Path, basket: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "rebalance_portfolio.py"), str(basket), *args],
        env={**clean_environment(), "DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_deeply_nested_basket_exits_2_and_sends_nothing(tmp_path):
    basket = tmp_path / "deep.json"
    basket.write_text('{"weights": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = rebalance(tmp_path, basket, "--paper", "--quiet")
    assert result.returncode == 2, result.stderr
    assert "nested too deeply to be a basket" in result.stderr and "Nothing was sent" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert not (tmp_path / "data" / "paper").exists()  # no paper exchange was started


LONG = "A" * 100_000


@pytest.mark.parametrize(
    ("ticker", "shown"),
    [
        ("ırctc", r"'\u0131rctc'"),  # dotless ı: "ırctc".upper() is "IRCTC"
        ("INFY; rm -rf ~", "'INFY; rm -rf ~'"),
        ("$(reboot)", "'$(reboot)'"),
        ("../../etc/passwd", "'../../etc/passwd'"),
        ("\x1b[2J\x1b[31mSBIN", r"'\x1b[2J\x1b[31mSBIN'"),
        ("SB\nIN", r"'SB\nIN'"),
        ("NSE:ＳＢＩＮ", r"'NSE:\uff33\uff22\uff29\uff2e'"),  # full-width letters
        (LONG, "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'... (100,000 characters)"),
        ("-INFY", "'-INFY'"),
    ],
)
def test_a_ticker_that_is_not_an_nse_symbol_exits_2_naming_it_escaped(tmp_path, ticker, shown):
    basket = tmp_path / "basket.json"
    basket.write_text(
        json.dumps({"stocks": [{"stock_ticker": "INFY", "weight": 0.5}, {"stock_ticker": ticker, "weight": 0.5}]})
    )
    result = rebalance(tmp_path, basket, "--paper", "--quiet")
    assert result.returncode == 2, result.stderr
    assert f"{shown} is not an NSE symbol" in result.stderr
    assert "Nothing was sent" in result.stderr and "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr + result.stdout  # no terminal escape reaches the console
    assert len(result.stderr) < 1000
    assert not (tmp_path / "data" / "paper").exists()


def test_nse_symbols_as_nse_writes_them_are_traded_upper_cased(tmp_path):
    basket = tmp_path / "basket.json"
    weights = {"M&M": 0.2, "bajaj-auto": 0.2, "J&KBANK": 0.2, "NSE:ARE&M": 0.2, " 360ONE ": 0.1, "NAM_INDIA": 0.1}
    basket.write_text(json.dumps({"weights": weights}))
    assert set(load_basket(basket).weights) == {"M&M", "BAJAJ-AUTO", "J&KBANK", "ARE&M", "360ONE", "NAM_INDIA"}
    assert nse_symbol("nse:infy") == "INFY"
    with pytest.raises(BasketError, match="at most 20 characters"):
        nse_symbol("A" * 21)


def test_the_doctor_refuses_a_symbol_that_is_not_an_nse_symbol(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "doctor.py"), "--only", "python", "--symbol", "ırctc\x1b[0m"],
        env={**clean_environment(), "DATA_DIR": str(tmp_path / "data")},
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert r"'\u0131rctc\x1b[0m' is not an NSE symbol" in result.stderr
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr
