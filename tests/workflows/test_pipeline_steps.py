"""scripts/pipeline.py's steps one at a time: their settings, errors and exit codes, the wait for
the market on a clock the test moves, and the GitHub calls against the fake GitHub API."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from niftybaskets.cli.pipeline import StepError, wait_market
from niftybaskets.config import ConfigError, Settings
from niftybaskets.github import (
    PRICE_CACHE_ARTIFACT,
    RESEARCH_WORKFLOW,
    TOKEN_ARTIFACT,
    TOKEN_WORKFLOW,
    GitHub,
    GitHubError,
)
from niftybaskets.market import IST
from niftybaskets.price_cache import PriceCache
from tests.fakes.clock import FakeClock
from tests.workflows.conftest import git
from tests.workflows.runner import clean_environment


def step(checkout: Path, name: str, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/pipeline.py", name],
        cwd=checkout,
        env={**clean_environment(), **settings},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Sleeper:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept = 0.0

    def __call__(self, seconds: float) -> None:
        self.slept += seconds
        self.clock.advance(seconds=seconds)


def test_a_live_run_on_saturday_waits_until_monday_0914_ist_and_says_how_long(capsys):
    clock = FakeClock(datetime(2026, 11, 21, 7, 0, tzinfo=IST))  # Saturday
    sleep = Sleeper(clock)
    assert wait_market({"MODE": "live"}, Settings(), clock, sleep) == 0
    assert clock() == datetime(2026, 11, 23, 9, 14, tzinfo=IST)
    said = capsys.readouterr().out
    assert "Waiting for the market: 2d 02:14:00 until Mon 23 Nov 09:14 IST." in said


def test_a_holiday_from_the_settings_is_waited_over(capsys):
    clock = FakeClock(datetime(2026, 11, 23, 16, 0, tzinfo=IST))  # Monday after the close; 24 Nov is a holiday
    sleep = Sleeper(clock)
    wait_market({"MODE": "live"}, Settings(nse_extra_holidays=["2026-11-25"]), clock, sleep)
    assert clock() == datetime(2026, 11, 26, 9, 14, tzinfo=IST)


def test_a_dry_run_waits_too_so_it_plans_with_that_mornings_login():
    clock = FakeClock(datetime(2026, 11, 21, 7, 0, tzinfo=IST))
    wait_market({"MODE": "dry-run"}, Settings(), clock, Sleeper(clock))
    assert clock() == datetime(2026, 11, 23, 9, 14, tzinfo=IST)


@pytest.mark.parametrize(("mode", "start"), [("paper", "market-open"), ("live", "now"), ("dry-run", "now")])
def test_paper_runs_and_runs_started_now_do_not_wait(mode, start, capsys):
    clock = FakeClock(datetime(2026, 11, 21, 7, 0, tzinfo=IST))
    sleep = Sleeper(clock)
    wait_market({"MODE": mode, "START": start}, Settings(), clock, sleep)
    assert sleep.slept == 0
    assert "no need to wait" in capsys.readouterr().out


def test_an_unknown_mode_or_start_is_refused():
    with pytest.raises(StepError, match="MODE must be one of dry-run, live, paper"):
        wait_market({"MODE": "yolo"}, Settings())
    with pytest.raises(StepError, match="START must be market-open or now"):
        wait_market({"MODE": "live", "START": "soon"}, Settings())


def test_the_kite_token_workflow_refuses_a_file_that_is_not_a_token_file(scratch):
    done = step(scratch.checkout, "save-token", TOKEN_FILE_TEXT='{"format": "something else"}')
    assert done.returncode == 2
    assert "python3 scripts/kite_login.py --push" in done.stderr
    assert not (scratch.checkout / "kite-token.json").exists()


def test_a_token_file_setting_that_points_nowhere_is_refused(scratch):
    done = step(scratch.checkout, "kite-token", MODE="live", KITE_TOKEN_FILE="/nowhere/kite-token.json")
    assert done.returncode == 2
    assert "KITE_TOKEN_FILE is /nowhere/kite-token.json, which does not exist" in done.stderr


def test_bad_numbers_for_the_research_are_refused_before_any_call(scratch):
    done = step(scratch.checkout, "portfolio", TOP_N="many")
    assert done.returncode == 2 and "TOP_N must be a whole number of at least 1, not 'many'" in done.stderr


def test_the_rebalance_refuses_a_basket_outside_docs_baskets(scratch, tmp_path):
    outside = tmp_path / "basket.json"
    outside.write_text((scratch.checkout / "examples" / "sample_basket.json").read_text())
    done = step(scratch.checkout, "rebalance", BASKET=str(outside), MODE="paper")
    assert done.returncode == 2
    assert "docs/baskets" in done.stderr


def test_publishing_with_nothing_new_is_fine_and_a_failed_push_keeps_the_commit(scratch, tmp_path):
    done = step(scratch.checkout, "publish", HOME=str(tmp_path))
    assert done.returncode == 0 and "Nothing new in docs/ to publish." in done.stdout
    (scratch.checkout / "docs" / "note.md").write_text("# A note\n")
    git(scratch.checkout, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    done = step(scratch.checkout, "publish", GITHUB_ACTIONS="true", HOME=str(tmp_path))
    assert done.returncode == 1
    assert "run the Research workflow again" in done.stdout
    assert (
        git(scratch.checkout, "log", "-1", "--format=%an %s").strip()
        == "github-actions[bot] Publish the NIFTY SMALLCAP 250 basket"
    )
    again = step(scratch.checkout, "publish", HOME=str(tmp_path))  # on your machine: the commit waits
    assert again.returncode == 1 and "the commit is kept here" in again.stdout


def test_publishing_without_an_upstream_branch_says_how_to_set_one(scratch):
    git(scratch.checkout, "checkout", "-q", "-b", "local-only")
    done = step(scratch.checkout, "publish")
    assert done.returncode == 2 and "no upstream" in done.stderr


def test_dispatching_the_rebalance_names_the_basket_and_mode(scratch, github):
    settings = {
        "GITHUB_TOKEN": github.token,
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_API_URL": github.url,
        "GITHUB_REF_NAME": "main",
        "BASKET": "docs/baskets/x.json",
        "MODE": "live",
    }
    done = step(scratch.checkout, "dispatch-rebalance", **settings)
    assert done.returncode == 0, done.stderr
    assert github.dispatches[-1].inputs == {"basket": "docs/baskets/x.json", "mode": "live"}
    refused = step(scratch.checkout, "dispatch-rebalance", **{**settings, "GITHUB_TOKEN": "wrong"})
    assert refused.returncode == 1
    assert "GitHub refused to run rebalance.yml in owner/niftybaskets: HTTP 401 Bad credentials" in refused.stderr
    assert "wrong" not in refused.stderr
    missing = step(scratch.checkout, "dispatch-rebalance", **{**settings, "GITHUB_TOKEN": ""})
    assert missing.returncode == 2 and "set GITHUB_TOKEN or GH_TOKEN" in missing.stderr


def test_only_a_dispatched_run_of_the_kite_token_workflow_counts(github):
    """A pull request's run can upload an artifact of any name, even from an edited copy of
    kite-token.yml; it must never become the token."""
    client = GitHub(github.token, github.repository, github.url)
    planted = {TOKEN_ARTIFACT: {"kite-token.json": b"planted"}}
    github.add_run("ci.yml", planted)
    github.add_run(TOKEN_WORKFLOW, planted, event="pull_request", head_repository="stranger/niftybaskets")
    github.add_run(TOKEN_WORKFLOW, planted, event="pull_request")
    assert client.latest_artifact(TOKEN_WORKFLOW, TOKEN_ARTIFACT, "main") is None
    github.add_run(TOKEN_WORKFLOW, {TOKEN_ARTIFACT: {"kite-token.json": b"older"}})
    github.add_run(TOKEN_WORKFLOW, {TOKEN_ARTIFACT: {"kite-token.json": b"newest"}})
    github.add_run(TOKEN_WORKFLOW, {TOKEN_ARTIFACT: {"kite-token.json": b"failed"}}, conclusion="failure")
    github.add_run(TOKEN_WORKFLOW, planted, event="pull_request", head_repository="stranger/niftybaskets")
    artifact = client.latest_artifact(TOKEN_WORKFLOW, TOKEN_ARTIFACT, "main")
    assert client.download_file(artifact, "kite-token.json", 100) == b"newest"
    with pytest.raises(GitHubError, match=r"holds no other\.json"):
        client.download_file(artifact, "other.json", 100)
    with pytest.raises(GitHubError, match="too large"):
        client.download_file(artifact, "kite-token.json", 3)


def restore_prices(checkout: Path, github, data: Path) -> subprocess.CompletedProcess:
    return step(
        checkout,
        "restore-prices",
        GITHUB_TOKEN=github.token,
        GITHUB_REPOSITORY=github.repository,
        GITHUB_API_URL=github.url,
        DATA_DIR=str(data),
    )


def test_the_research_job_restores_the_price_cache_of_its_last_trusted_run(scratch, github, tmp_path):
    cache = tmp_path / "made" / "prices.sqlite"
    store = PriceCache(cache)
    store.save_prices("nse", "ALPHA", [{"day": "2025-08-18", "open": 1.0, "close": 2.0}], ("2025-08-18",) * 2, "x")
    for number in range(200):  # pages enough that one can be damaged without breaking the file's header
        store.save_prices("nse", f"S{number}", [{"day": "2025-08-18", "open": 1.0, "close": 2.0}], None, "x")
    store.close()
    data = tmp_path / "data"

    done = restore_prices(scratch.checkout, github, data)
    assert done.returncode == 0 and "No price cache from an earlier research run" in done.stdout

    planted = {PRICE_CACHE_ARTIFACT: {"prices.sqlite": b"planted"}}
    github.add_run(RESEARCH_WORKFLOW, planted, event="pull_request", head_repository="stranger/niftybaskets")
    # A Saturday run whose deploy failed: its research job kept the cache all the same.
    kept = {PRICE_CACHE_ARTIFACT: {"prices.sqlite": cache.read_bytes()}}
    github.add_run(RESEARCH_WORKFLOW, kept, event="schedule", conclusion="failure")
    github.add_run("ci.yml", planted)
    done = restore_prices(scratch.checkout, github, data)
    assert done.returncode == 0 and "Restored the price cache of the last research run" in done.stdout
    assert PriceCache(data / "prices.sqlite").prices("nse", "ALPHA") == [
        {"day": "2025-08-18", "open": 1.0, "close": 2.0, "previous_close": None}
    ]
    assert "Using the price cache on this machine" in restore_prices(scratch.checkout, github, data).stdout

    damaged = bytearray(cache.read_bytes())
    last_page = len(damaged) // 4096 - 1
    damaged[last_page * 4096 : last_page * 4096 + 8] = b"\x0d" + b"\xff" * 7  # a B-tree page's header
    for broken in (b"not a database", bytes(damaged)):
        (data / "prices.sqlite").unlink()
        github.add_run(RESEARCH_WORKFLOW, {PRICE_CACHE_ARTIFACT: {"prices.sqlite": broken}})
        done = restore_prices(scratch.checkout, github, data)
        assert done.returncode == 0 and "the price cache of the last run is unusable" in done.stdout
        assert not (data / "prices.sqlite").exists()
        (data / "prices.sqlite").touch()


def test_github_settings_come_from_the_environment_or_the_clones_remote(scratch):
    git(scratch.checkout, "remote", "set-url", "origin", "https://github.com/someone/niftybaskets.git")
    settings = Settings(_env_file=None, gh_token="t")
    client = GitHub.from_settings(settings, scratch.checkout)
    assert client.repository == "someone/niftybaskets"
    assert (
        GitHub.from_settings(
            Settings(_env_file=None, gh_token="t", github_repository="a/b"), scratch.checkout
        ).repository
        == "a/b"
    )
    with pytest.raises(ConfigError, match="set GITHUB_REPOSITORY=owner/name"):
        GitHub.from_settings(settings, scratch.checkout.parent)


def test_an_unreachable_github_is_an_error_that_says_so():
    client = GitHub("t", "owner/name", "http://127.0.0.1:9", timeout=2)
    with pytest.raises(GitHubError, match=r"could not reach GitHub to run rebalance\.yml"):
        client.dispatch("rebalance.yml", "main", {})


def login_push(checkout: Path, tmp_path: Path, kite, **settings: str) -> subprocess.CompletedProcess:
    environment = {
        **clean_environment(),
        "KITE_API_KEY": "paperkey",
        "KITE_API_ROOT": kite.url,
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATA_DIR": str(tmp_path / "laptop"),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "scripts/kite_login.py", "--push", "--no-browser", "--timeout", "2"],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_push_without_a_github_token_says_so_before_any_login(scratch, kite, tmp_path):
    done = login_push(scratch.checkout, tmp_path, kite, GITHUB_REPOSITORY="owner/niftybaskets")
    assert done.returncode == 2
    assert "set GITHUB_TOKEN or GH_TOKEN" in done.stderr
    assert "Log in to Kite" not in done.stdout


def test_push_refused_by_github_exits_1_with_the_reason(scratch, github, kite, tmp_path):
    done = login_push(
        scratch.checkout,
        tmp_path,
        kite,
        KITE_ACCESS_TOKEN=kite.kite.access_token,
        GITHUB_TOKEN="not-allowed",
        GITHUB_REPOSITORY=github.repository,
        GITHUB_API_URL=github.url,
    )
    assert done.returncode == 1
    assert "GitHub refused to read owner/niftybaskets: HTTP 401 Bad credentials" in done.stderr
    assert github.dispatches == []
