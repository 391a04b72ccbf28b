"""A bad DATA_DIR or a damaged SQLite file under it, as every script that uses them meets it: exit 2,
a message saying what to do, no traceback, and nothing sent or lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE = REPOSITORY / "examples" / "sample_basket.json"
KEY = Fernet.generate_key().decode()
NOWHERE = "http://127.0.0.1:9"  # refused at once: nothing here may reach a service
# Every SQLite file the project keeps under DATA_DIR.
DATABASES = (
    "niftybaskets.sqlite",
    "prices.sqlite",
    "paper/exchange.sqlite",
    "paper/rebalance.sqlite",
    "paper/rebalance-audit.sqlite",
)


def run(script: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean_environment(), "NSE_BASE_URL": NOWHERE, "YAHOO_BASE_URL": NOWHERE, **env},
        cwd=REPOSITORY,
        stdin=subprocess.DEVNULL,
    )


def published_basket(docs: Path) -> None:
    folder = docs / "baskets"
    folder.mkdir(parents=True)
    basket = {"stocks": [{"stock_ticker": "INFY", "weight": 1.0, "sources": []}]}
    (folder / "NIFTY 50__Nov_16_2026_08_00__N20_K5.json").write_text(json.dumps(basket))


# Each script as a user runs it, with what it needs to reach the point where it opens DATA_DIR.
SCRIPTS = {
    "analyze_stocks": (["analyze_stocks.py", "-i", "NIFTY 50"], {"GEMINI_API_KEYS": "k", "GEMINI_BASE_URL": NOWHERE}),
    "generate_portfolio": (["generate_portfolio.py", "-i", "NIFTY 50"], {"GEMINI_API_KEYS": "k"}),
    "score_ledger": (["score_ledger.py"], {}),
    "rebalance": (["rebalance_portfolio.py", str(SAMPLE), "--quiet"], {"KITE_API_KEY": "k", "ENCRYPTION_KEY": KEY}),
    "rebalance --paper": (["rebalance_portfolio.py", str(SAMPLE), "--paper", "--quiet"], {}),
    "kite_login": (["kite_login.py", "--list"], {"KITE_API_KEY": "k", "ENCRYPTION_KEY": KEY}),
    "paper_exchange": (["paper_exchange.py", "--port", "0"], {}),
    "pipeline demo": (["pipeline.py", "demo"], {}),
    "doctor": (["doctor.py", "--only", "kite"], {"KITE_API_KEY": "k", "ENCRYPTION_KEY": KEY}),
}


@pytest.mark.parametrize("case", ["under /proc", "a file", "damaged files"])
def test_a_bad_data_dir_or_a_damaged_file_exits_2_in_every_script_saying_what_to_do(tmp_path, case):
    docs = tmp_path / "docs"
    published_basket(docs)
    damaged: dict[Path, bytes] = {}
    if case == "under /proc":
        data_dir, expected = "/proc/niftybaskets-data", "set DATA_DIR"
    elif case == "a file":
        data_dir, expected = str(tmp_path / "a-file"), "a file is in the way"
        (tmp_path / "a-file").write_text("not a folder\n")
    else:
        data_dir, expected = str(tmp_path / "data"), "move it aside"
        for each in DATABASES:
            path = tmp_path / "data" / each
            path.parent.mkdir(parents=True, exist_ok=True)
            damaged[path] = os.urandom(8192)
            path.write_bytes(damaged[path])
    with ThreadPoolExecutor(len(SCRIPTS)) as pool:  # the scripts at once: each spends its time starting Python
        runs = {
            name: pool.submit(run, *arguments, env={"DATA_DIR": data_dir, "DOCS_DIR": str(docs), **settings})
            for name, (arguments, settings) in SCRIPTS.items()
        }
    for name, done in runs.items():
        result = done.result()
        output = result.stdout + result.stderr
        assert result.returncode == 2, f"{name}: {output}"
        assert expected in output, f"{name}: {output}"
        assert "Traceback" not in output, f"{name}: {output}"
    for path, content in damaged.items():  # each damaged file is left as it was, for the user to move aside
        assert path.read_bytes() == content


def test_a_damaged_store_sends_nothing_and_keeps_the_file(make_paper, tmp_path):
    paper = make_paper(rules={"market_hours": False, "token_expiry": False})
    store = tmp_path / "data" / "niftybaskets.sqlite"
    store.parent.mkdir()
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(4080))
    before = store.read_bytes()
    result = run(
        "rebalance_portfolio.py",
        str(SAMPLE),
        "--live",
        "--quiet",
        "--no-wait",
        env={"DATA_DIR": str(tmp_path / "data"), "KITE_API_KEY": "paperkey", "ENCRYPTION_KEY": KEY}
        | {"KITE_API_ROOT": paper.url},
    )
    assert result.returncode == 2, result.stderr
    assert f"{store} is damaged" in result.stderr and "move it aside" in result.stderr
    assert "nothing else is lost" in result.stderr
    assert "Traceback" not in result.stderr
    assert paper.kite.orders() == []
    assert store.read_bytes() == before
