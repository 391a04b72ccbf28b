"""What the pipeline's steps send, through the helpers they call (niftybaskets.cli.notify) to a
json:// webhook and an SMTP server: the rebalance result from a real paper run's report, a new
basket with the scored ledger's latest line, a failed step; never a secret, and a channel that does
not answer is a warning, never a failure."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from niftybaskets.cli.notify import notify_failure, notify_login_needed, notify_published, notify_rebalance
from niftybaskets.cli.score_ledger import ScoreRequest, score
from niftybaskets.config import Settings
from niftybaskets.kite.sessions import LOGIN_COMMAND
from niftybaskets.notify import site_url
from tests.conftest import MONDAY_10AM
from tests.fakes.clock import FakeClock
from tests.ledger.conftest import INDEX, world  # noqa: F401 - the fixture
from tests.notify.conftest import SECRETS, secrets_in
from tests.notify.receivers import closed_port

REPOSITORY = Path(__file__).resolve().parents[2]
SITE = "https://owner.github.io/niftybaskets/"
ACTIONS = {
    "GITHUB_REPOSITORY": "owner/niftybaskets",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SERVER_URL": "https://github.com",
}
RUN = "https://github.com/owner/niftybaskets/actions/runs/4242"


def settings(*urls: str, **values: object) -> Settings:
    """The user's settings: the channels, the fork, and secrets none of which may be sent."""
    return Settings(
        _env_file=None,
        notify_urls=" ".join(urls),
        github_repository="owner/niftybaskets",
        kite_api_secret=SECRETS["KITE_API_SECRET"],
        kite_access_token=SECRETS["KITE_ACCESS_TOKEN"],
        encryption_key=SECRETS["ENCRYPTION_KEY"],
        gemini_api_keys=SECRETS["GEMINI_API_KEYS"],
        **values,
    )


@pytest.fixture(scope="module")
def paper_report(tmp_path_factory) -> dict:
    """The report JSON of the sample basket rebalanced on a fresh paper account, by the script itself."""
    folder = tmp_path_factory.mktemp("paper")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITE_", "ENCRYPTION_", "DATA_", "GITHUB_"))}
    done = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "rebalance_portfolio.py"),
            str(REPOSITORY / "examples" / "sample_basket.json"),
            "--paper",
            "--quiet",
            "--report-json",
            str(folder / "report.json"),
        ],
        env={**env, "DATA_DIR": str(folder / "data"), "NSE_BASE_URL": "http://127.0.0.1:9"},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((folder / "report.json").read_text())


def written(report: dict, folder: Path) -> Path:
    path = folder / "report.json"
    path.write_text(json.dumps(report))
    return path


def test_the_rebalance_result_says_the_deficit_before_and_after_the_orders_and_why_it_stopped(
    paper_report, webhook, mail, tmp_path
):
    deficit = paper_report["deficit"]
    delivery = notify_rebalance(settings(webhook.url, mail.url), written(paper_report, tmp_path), ACTIONS)
    assert delivery.sent == ("json #1", "mailto #2") and delivery.failed == ()
    [posted] = webhook.received
    # The sample's sells leave sale money that Kite lets the account use only from the next session.
    assert posted["title"] == "Rebalance done: money left (paper, …01)"
    text = posted["message"]
    assert "Basket: sample_basket.json" in text
    assert (
        f"Deficit ₹{deficit['before']:,.0f} ({deficit['before_percent']:.2f}%) → "
        f"₹{deficit['after']:,.0f} ({deficit['after_percent']:.2f}%)" in text
    )
    orders = sum(len(record["orders"]) for record in paper_report["passes"])
    assert f"Orders: {orders} filled." in text
    assert "Why it stopped: no order can lower the deficit further; ₹" in text and "next session" in text
    assert f"Run: {RUN}" in text and f"Site: {SITE}" in text
    assert "ZP0001" not in text and len(text) < 800  # a phone screen
    [sent] = mail.mails
    assert "Deficit ₹" in sent.text and "ZP0001" not in sent.data.decode()
    assert secrets_in(webhook.texts[0] + sent.data.decode()) == []


def test_a_refused_order_is_named_with_its_reason_and_sent_at_level_problems(paper_report, webhook, tmp_path):
    report = copy.deepcopy(paper_report)
    refused = report["passes"][0]["orders"][0]
    refused.update(status="REJECTED", outcome="refused", filled=0, message="Insufficient holdings of ZP0001.")
    report["failed"] = True
    delivery = notify_rebalance(settings(webhook.url, notify_level="problems"), written(report, tmp_path), ACTIONS)
    assert delivery.sent == ("json #1",)
    [posted] = webhook.received
    assert posted["title"] == "Rebalance stopped short (paper, …01)"
    assert f"{refused['symbol']} SELL {refused['quantity']} refused: Insufficient holdings of …01." in posted["message"]
    assert "1 refused" in posted["message"] and "ZP0001" not in posted["message"]


def test_a_rebalance_that_reached_its_target_is_not_sent_at_level_problems(paper_report, webhook, tmp_path, capsys):
    report = {**paper_report, "stop_reason": "the deficit is at or under the target (₹10,000)"}
    assert notify_rebalance(settings(webhook.url), written(report, tmp_path), ACTIONS).sent == ("json #1",)
    assert webhook.received[0]["title"] == "Rebalance done (paper, …01)"
    delivery = notify_rebalance(settings(webhook.url, notify_level="problems"), written(report, tmp_path), ACTIONS)
    assert delivery.sent == () and delivery.skipped and len(webhook.received) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("content", [None, "{", "[]"])
def test_a_missing_or_unreadable_report_is_a_warning_not_a_failure(webhook, tmp_path, capsys, content):
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content)
    delivery = notify_rebalance(settings(webhook.url), report, ACTIONS)
    assert delivery.sent == () and webhook.received == []
    assert "warning: no rebalance result to notify" in capsys.readouterr().err


def test_a_new_basket_names_its_stocks_its_page_and_the_ledgers_latest_score(world, webhook):  # noqa: F811
    score(world.settings(), ScoreRequest(None, ("nse",), "open"), Console(width=200), world.clock, [world.source()])
    ledger = json.loads((world.docs / "performance" / "nifty-smallcap-250.json").read_text())
    second = ledger["baskets"][1]  # the newest scored: the third is still open
    basket = world.docs / "baskets" / f"{world.third.stem}.json"
    delivery = notify_published(settings(webhook.url, docs_dir=world.docs), basket, ACTIONS)
    assert delivery.sent == ("json #1",)
    [posted] = webhook.received
    assert posted["title"] == f"New basket: {INDEX}"
    text = posted["message"]
    assert "Published 30 Aug 2025 06:30 IST:\nALPHA 50%, GAMMA 50%" in text
    assert (
        f"Last scored basket (23 Aug): {second['net_return']:+.2%} after costs, "
        f"index {second['index']['return']:+.2%}." in text
    )
    assert f"Page: {SITE}{world.third.page}" in text


def test_a_first_basket_has_no_score_line(world, webhook):  # noqa: F811
    basket = world.docs / "baskets" / f"{world.first.stem}.json"
    notify_published(settings(webhook.url, docs_dir=world.docs), basket, ACTIONS)
    [posted] = webhook.received
    assert "ALPHA 50%, BETA 30%, GAMMA 20%" in posted["message"] and "Last scored" not in posted["message"]


def test_a_failed_step_says_why_and_what_next_and_never_a_secret(webhook, mail):
    reason = (
        f"Gemini refused key {SECRETS['GEMINI_API_KEYS']} and Kite said the session of ZP0001 ended "
        f"(secret {SECRETS['KITE_API_SECRET']}, token {SECRETS['KITE_ACCESS_TOKEN']})"
    )
    delivery = notify_failure(
        settings(webhook.url, mail.url, notify_level="problems"), "rebalance", reason, "log in again", ACTIONS
    )
    assert delivery.sent == ("json #1", "mailto #2")
    [posted] = webhook.received
    assert posted["title"] == "niftybaskets: rebalance failed"
    assert "Kite said the session of …01 ended" in posted["message"] and "[hidden]" in posted["message"]
    assert "Next: log in again" in posted["message"] and f"Run: {RUN}" in posted["message"]
    [sent] = mail.mails
    assert secrets_in(webhook.texts[0] + sent.data.decode()) == []
    assert "ZP0001" not in webhook.texts[0] + sent.data.decode()


def test_a_channel_on_a_closed_port_is_a_warning_and_a_summary_line_not_a_failure(webhook, tmp_path, capsys):
    summary = tmp_path / "summary.md"
    closed = f"json://127.0.0.1:{closed_port()}/hook"
    delivery = notify_failure(
        settings(closed, webhook.url), "research", "NSE refused", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert delivery.failed == ("json #1",) and delivery.sent == ("json #2",)
    assert "warning: the notification did not reach json #1 of NOTIFY_URLS" in capsys.readouterr().err
    assert "Notification not delivered to json #1" in summary.read_text()
    assert len(webhook.received) == 1


def test_the_rebalance_steps_login_reminder_names_the_local_login(webhook):
    delivery = notify_login_needed(settings(webhook.url), LOGIN_COMMAND, FakeClock(MONDAY_10AM), env={})
    assert delivery.sent == ("json #1",)
    assert "Log in: python3 scripts/kite_login.py\n" in webhook.received[0]["message"]


def test_nothing_is_sent_without_channels(capsys):
    delivery = notify_failure(settings(), "research", "NSE refused", env={})
    assert delivery.sent == delivery.failed == () and delivery.skipped == "NOTIFY_URLS is not set"
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("repository", "site"),
    [
        ("owner/niftybaskets", SITE),
        ("Owner/owner.github.io", "https://owner.github.io/"),
        ("", None),
        ("not a repository", None),
    ],
)
def test_the_site_link_comes_from_the_fork(repository, site):
    assert site_url(repository) == site


def test_the_run_link_is_there_only_in_actions(webhook):
    notify_failure(settings(webhook.url), "score", "NSE refused", env={})
    assert "Run:" not in webhook.received[0]["message"]
