"""The workflows' steps, run in order in a scratch clone of the fork, against the fakes: NSE, Gemini,
the GitHub API, a bare git remote, and the paper exchange standing in for Kite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from cryptography.fernet import Fernet

from niftybaskets.encryption import read_artifact
from niftybaskets.site.baskets import write_basket
from niftybaskets.site.index_page import update_index
from niftybaskets.site.performance import slug
from tests.fakes.github import Dispatch
from tests.site.conftest import POOL, november
from tests.workflows.conftest import BOT, git
from tests.workflows.runner import Runner, clean_environment

WORKFLOWS = Path(".github") / "workflows"
PAPER = {"REBALANCE_MODE": "paper"}


def context(github, inputs=None, secrets=None, variables=None, needs=None) -> dict:
    return {
        "inputs": inputs or {},
        "secrets": secrets or {},
        "vars": variables or {},
        "needs": needs or {},
        "github": {
            "token": github.token,
            "run_id": "4242",
            "repository": github.repository,
            "api_url": github.url,
            "ref_name": "main",
        },
    }


def host(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The runner machine's environment: nothing of this machine's settings, an empty git config."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**clean_environment(), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", **settings}


def run_rebalance(runner: Runner, checkout: Path):
    """rebalance.yml's two jobs in order: the wait for the market, then the rebalance."""
    waited = runner.run_job(checkout / WORKFLOWS / "rebalance.yml", "wait")
    assert waited.ok, waited.log
    return runner.run_job(checkout / WORKFLOWS / "rebalance.yml", "rebalance")


def test_research_publishes_the_basket_deploys_the_site_and_a_paper_rebalance_trades_it(
    scratch, github, research_world, tmp_path, phone
):
    nse, gemini, index = research_world
    # Someone pushed to the fork while the research ran: the publish step must rebase over it.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(scratch.remote), str(other))
    (other / "NOTES.md").write_text("a note\n")
    git(other, "add", "NOTES.md")
    git(other, "commit", "-q", "-m", "A note pushed meanwhile")
    git(other, "push", "-q")

    environment = host(tmp_path, NSE_BASE_URL=nse.url, GEMINI_BASE_URL=gemini.url)
    inputs = {"index": index, "top_n": "4", "basket_k": "2", "passes": "2"}
    research = Runner(
        scratch.checkout,
        context(
            github,
            inputs,
            {"GEMINI_API_KEYS": "key-one,key-two", "NOTIFY_URLS": phone.url},
            {"REBALANCE_MODE": "paper"},
        ),
        environment,
    )
    job = research.run_job(scratch.checkout / WORKFLOWS / "research.yml", "research")
    assert job.ok, job.log
    doctor = job.step("Check the set-up").output  # NSE Indices and Yahoo unreachable: NSE and Gemini suffice
    assert "✓ NSE index list" in doctor and "✗ Yahoo quote" in doctor and "✓ Gemini key #2" in doctor

    basket = job.outputs["basket"]
    stem = Path(basket).stem
    assert basket == f"docs/baskets/{stem}.json"
    assert scratch.remote_git("log", "-1", "--format=%an", "main").strip() == BOT
    assert "A note pushed meanwhile" in scratch.remote_git("log", "--format=%s", "main")
    published = json.loads(scratch.remote_git("show", f"main:{basket}"))
    assert len(published["stocks"]) == 2
    assert f"baskets/{quote(stem)}" in scratch.remote_git("show", "main:docs/index.md")
    assert "Selected Stocks and Weights" in job.summary
    research_log = job.artifacts["research-logs"][f"4242_{index.replace(' ', '_')}_research.log"].decode()
    assert "Research pass 1 of 2" in research_log and "Research pass 2 of 2" in research_log
    ledger = scratch.remote_git("show", f"main:docs/performance/{slug(index)}.md")
    assert "| Baskets scored | 0 of 1 (1 open, 0 with prices missing) |" in ledger  # committed with the basket
    assert f"- [{index}](performance/{slug(index)})" in scratch.remote_git("show", "main:docs/index.md")
    assert {f"4242_{index.replace(' ', '_')}_{step}.log" for step in ("portfolio", "score", "publish", "site")} <= set(
        job.artifacts["research-logs"]
    )
    assert "key-one" not in job.log
    [site] = research.pages
    assert f"baskets/{quote(stem)}" in (site / "index.html").read_text()
    assert (site / "baskets" / f"{stem}.html").is_file()
    assert (site / "performance" / f"{slug(index)}.html").is_file()
    assert "No price cache from an earlier research run" in job.log
    assert "prices.sqlite" in job.artifacts["price-cache"]  # for the next run's score step
    [told] = phone.received  # the new basket, from the one step given the secret; no failure
    assert all(stock["stock_ticker"] in told["message"] for stock in published["stocks"])
    assert phone.url not in job.log

    needs = {"research": {"outputs": job.outputs}}
    deploy = research.run_job(scratch.checkout / WORKFLOWS / "research.yml", "deploy")
    assert deploy.ok and research.deployments == [str(site)]
    research.context["needs"] = needs
    handed = research.run_job(scratch.checkout / WORKFLOWS / "research.yml", "rebalance")
    assert handed.ok, handed.log
    assert github.dispatches == [Dispatch("rebalance.yml", "main", {"basket": basket, "mode": "paper"})]

    # The self-hosted runner's job, as GitHub starts it from that dispatch.
    git(scratch.checkout, "pull", "-q")
    rebalance = Runner(
        scratch.checkout,
        context(
            github,
            {**github.dispatches[0].inputs, "target_deficit": "", "min_order_value": ""},
            {"NOTIFY_URLS": phone.url},
        ),
        environment,
    )
    job = run_rebalance(rebalance, scratch.checkout)
    assert job.ok, job.log
    assert "no Kite token is needed" in job.step("Bring this morning's Kite token").output
    assert "– Kite login" in job.step("Check the set-up").output  # paper: reported, never in the way
    report = json.loads(job.artifacts["rebalance-report"]["rebalance-report.json"])
    assert report["basket"] == basket and report["user_id"] == "ZP0001"
    bought = {stock["symbol"]: stock["held_after"] for stock in report["stocks"]}
    assert all(bought[stock["stock_ticker"]] > 0 for stock in published["stocks"])
    assert f"## Rebalance {report['run_id']}" in job.summary
    told = phone.received[-1]  # the rebalance's result
    assert len(phone.received) == 2 and "paper" in told["title"] and "deficit" in told["message"].lower()


def publish_a_basket(scratch) -> str:
    docs = scratch.checkout / "docs"
    published = write_basket(docs, "NIFTY TEST 5", november(20, 9, 30), POOL, {"ALPHA": 0.6, "BETA": 0.4}, "Two.")
    update_index(docs)
    git(scratch.checkout, "add", "docs")
    git(scratch.checkout, "commit", "-q", "-m", "A basket")
    return f"docs/baskets/{published.stem}.json"


def kite_login(scratch, kite, key: str, tmp_path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """`python3 scripts/kite_login.py ARGS` on the user's laptop, in their clone of the fork."""
    environment = host(
        tmp_path,
        KITE_API_KEY="paperkey",
        KITE_API_ROOT=kite.url,
        KITE_ACCESS_TOKEN=kite.kite.access_token,
        ENCRYPTION_KEY=key,
        DATA_DIR=str(tmp_path / "laptop"),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "scripts/kite_login.py", *args],
        cwd=scratch.checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def push_token(scratch, github, kite, key: str, tmp_path, **extra: str) -> subprocess.CompletedProcess:
    """The user's morning: log in, and send the token to the fork."""
    return kite_login(scratch, kite, key, tmp_path, "--push", GITHUB_API_URL=github.url, **extra)


def test_the_morning_token_travels_encrypted_to_the_rebalance_job(scratch, github, kite, tmp_path):
    basket = publish_a_basket(scratch)
    key = Fernet.generate_key().decode()
    git(scratch.checkout, "remote", "set-url", "origin", "git@github.com:owner/niftybaskets.git")
    pushed = push_token(scratch, github, kite, key, tmp_path, GH_TOKEN=github.token)
    assert pushed.returncode == 0, pushed.stderr
    assert "Sent the encrypted token of ZP0001 to owner/niftybaskets" in pushed.stdout
    [sent] = github.dispatches
    assert sent.workflow == "kite-token.yml" and sent.ref == "main"
    access_token = kite.kite.access_token
    assert access_token not in json.dumps(sent.inputs)  # the public run's inputs hold the encrypted token only

    keeper = Runner(scratch.checkout, context(github, sent.inputs), host(tmp_path))
    kept = keeper.run_job(scratch.checkout / WORKFLOWS / "kite-token.yml", "keep")
    assert kept.ok, kept.log
    github.add_run("kite-token.yml", kept.artifacts)

    runner_host = host(tmp_path, KITE_API_ROOT=kite.url, DATA_DIR=str(tmp_path / "runner-data"))
    secrets = {"KITE_API_KEY": "paperkey", "ENCRYPTION_KEY": key}
    inputs = {"basket": basket, "mode": "dry-run", "start": "now", "target_deficit": "", "min_order_value": ""}
    rebalance = Runner(scratch.checkout, context(github, inputs, secrets), runner_host)
    job = run_rebalance(rebalance, scratch.checkout)
    assert job.ok, job.log
    token_step = job.step("Bring this morning's Kite token")
    assert f"::add-mask::{access_token}" in token_step.output  # the runner hides it from then on
    assert "Imported the token of ZP0001" in token_step.output
    others = job.log.replace(token_step.output, "")
    assert access_token not in others and access_token not in job.summary
    assert "(dry-run) for ZP0001" in job.summary
    assert "✓ Kite login" in job.step("Check the set-up").output
    report = json.loads(job.artifacts["rebalance-report"]["rebalance-report.json"])
    assert report["mode"] == "dry-run" and {"ALPHA", "BETA"} <= {stock["symbol"] for stock in report["stocks"]}
    assert access_token not in json.dumps(report)
    assert kite.kite.orders() == []  # a dry run sends nothing


def test_the_rebalance_job_stops_with_the_login_command_when_the_token_is_missing_or_stale(
    scratch, github, kite, tmp_path
):
    basket = publish_a_basket(scratch)
    key = Fernet.generate_key().decode()
    runner_host = host(tmp_path, KITE_API_ROOT=kite.url, DATA_DIR=str(tmp_path / "runner-data"))
    secrets = {"KITE_API_KEY": "paperkey", "ENCRYPTION_KEY": key}
    inputs = {"basket": basket, "mode": "dry-run", "start": "now"}

    job = run_rebalance(Runner(scratch.checkout, context(github, inputs, secrets), runner_host), scratch.checkout)
    step = job.step("Bring this morning's Kite token")
    assert step.status == 2 and "python3 scripts/kite_login.py --push" in step.output
    assert job.step("Rebalance").status is None  # skipped: nothing is traded without a token

    pushed = push_token(
        scratch, github, kite, key, tmp_path, GITHUB_TOKEN=github.token, GITHUB_REPOSITORY="owner/niftybaskets"
    )
    assert pushed.returncode == 0, pushed.stderr
    kept = Runner(scratch.checkout, context(github, github.dispatches[-1].inputs), host(tmp_path)).run_job(
        scratch.checkout / WORKFLOWS / "kite-token.yml", "keep"
    )
    github.add_run("kite-token.yml", kept.artifacts)
    kite.kite.invalidate_access_token()  # the user logged out, or it is past 06:00 IST
    job = run_rebalance(Runner(scratch.checkout, context(github, inputs, secrets), runner_host), scratch.checkout)
    step = job.step("Bring this morning's Kite token")
    assert step.status != 0 and "has expired" in step.output
    assert "python3 scripts/kite_login.py --push" in step.output
    assert job.step("Rebalance").status is None


def test_a_token_file_on_the_runner_host_is_used_without_github(scratch, github, kite, tmp_path):
    basket = publish_a_basket(scratch)
    key = Fernet.generate_key().decode()
    token_file = tmp_path / "kite-token.json"
    exported = kite_login(scratch, kite, key, tmp_path, "--export", str(token_file), "--quiet")
    assert exported.returncode == 0, exported.stderr
    assert read_artifact(token_file).user_id == "ZP0001"
    runner_host = host(tmp_path, KITE_API_ROOT=kite.url, DATA_DIR=str(tmp_path / "runner-data"))
    ctx = context(
        github,
        {"basket": basket, "mode": "dry-run", "start": "now"},
        {"KITE_API_KEY": "paperkey", "ENCRYPTION_KEY": key},
        {"KITE_TOKEN_FILE": str(token_file)},
    )
    github.token = "not-what-the-job-has"  # any call to GitHub would now fail
    job = run_rebalance(Runner(scratch.checkout, ctx, runner_host), scratch.checkout)
    assert job.ok, job.log
    assert f"Using the token file on this machine: {token_file}" in job.log
