"""run.sh as a user runs it, in a scratch clone of the fork, against the fakes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.workflows.conftest import REPOSITORY
from tests.workflows.runner import clean_environment


def installed_already() -> bool:
    """run.sh sets up .venv first; the scratch clone shares this one, which the test command set up."""
    text = b"".join(path.read_bytes() for path in sorted(REPOSITORY.glob("requirements*.txt")))
    digest = hashlib.sha256(text + (REPOSITORY / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return (REPOSITORY / ".venv" / f".installed-requirements-dev-{digest}").exists()


pytestmark = pytest.mark.skipif(not installed_already(), reason="run ./test.sh once: it sets up .venv")


def run_sh(checkout: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    environment = {
        **clean_environment(),
        "GIT_AUTHOR_NAME": "Investor",
        "GIT_AUTHOR_EMAIL": "investor@example.com",
        "GIT_COMMITTER_NAME": "Investor",
        "GIT_COMMITTER_EMAIL": "investor@example.com",
        "RUN_ID": "20261123T031500Z",
        **settings,
    }
    return subprocess.run(
        ["./run.sh", *args],
        cwd=checkout,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_run_sh_researches_publishes_pushes_and_rebalances_logging_each_step(scratch, research_world, kite):
    nse, gemini, index = research_world
    done = run_sh(
        scratch.checkout,
        INDEX=index,
        FILTER_TOP_N="4",
        BASKET_SIZE_K="2",
        WORKERS="3",
        LIVE_REBALANCE="0",
        GEMINI_API_KEYS="key-one,key-two",
        GEMINI_BASE_URL=gemini.url,
        NSE_BASE_URL=nse.url,
        KITE_API_KEY="paperkey",
        KITE_API_ROOT=kite.url,
        KITE_ACCESS_TOKEN=kite.kite.access_token,
        ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    logs = scratch.checkout / "data" / "logs"
    for step in ("research", "portfolio", "publish", "rebalance"):
        log = logs / f"20261123T031500Z_NIFTY_TEST_5_{step}.log"
        assert log.is_file() and log.read_text().strip(), step
        assert log.read_text() in done.stdout  # echoed to the console as well
    assert "Research pass 2 of 2" in (logs / "20261123T031500Z_NIFTY_TEST_5_research.log").read_text()
    assert "Publish the NIFTY TEST 5 basket" in scratch.remote_git("log", "-1", "--format=%s", "main")
    [basket] = (scratch.checkout / "docs" / "baskets").glob("*.json")
    report = json.loads((scratch.checkout / "data" / "logs" / "rebalance-report.json").read_text())
    assert report["mode"] == "dry-run" and report["basket"] == f"docs/baskets/{basket.name}"
    assert kite.kite.orders() == []  # LIVE_REBALANCE=0: nothing sent


def test_run_sh_stops_at_the_first_failed_step_and_names_its_log(scratch):
    done = run_sh(scratch.checkout)  # no Gemini keys
    assert done.returncode == 2
    log = "data/logs/20261123T031500Z_NIFTY_SMALLCAP_250_research.log"
    assert f"The research step failed (exit 2). Its log: {log}" in done.stderr
    assert "GEMINI_API_KEYS is not set" in (scratch.checkout / log).read_text()
    assert sorted(path.name for path in (scratch.checkout / "data" / "logs").glob("*.log")) == [Path(log).name]


def test_run_sh_refuses_a_bad_setting_or_argument_before_doing_anything(scratch):
    bad = run_sh(scratch.checkout, LIVE_REBALANCE="yes")
    assert bad.returncode == 2 and "LIVE_REBALANCE must be 1 (live orders) or 0 (dry run)" in bad.stderr
    unknown = run_sh(scratch.checkout, "--live")
    assert unknown.returncode == 2 and "usage: ./run.sh [demo]" in unknown.stderr
    assert not list((scratch.checkout / "data" / "logs").glob("*.log"))


def test_run_sh_demo_rebalances_the_sample_basket_on_paper_offline(scratch):
    done = run_sh(scratch.checkout, "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((scratch.checkout / "data" / "logs" / "rebalance-report.json").read_text())
    assert report["user_id"] == "ZP0001" and report["basket"] == "examples/sample_basket.json"
    assert (scratch.checkout / "data" / "logs" / "20261123T031500Z_NIFTY_SMALLCAP_250_demo.log").is_file()
