"""scripts/notify.py as a user runs it: --test to every channel, and the morning's --login-reminder
that asks the fork (the fake GitHub) whether a login was pushed. Messages arrive at a json://
webhook and an SMTP server on loopback; each option is tried in-process through main(argv), and
one run goes through the script itself."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from niftybaskets.cli.notify import main
from niftybaskets.market import IST
from tests.conftest import MONDAY_10AM
from tests.fakes.clock import FakeClock
from tests.notify.conftest import MAIL_PASSWORD, secrets_in
from tests.notify.receivers import closed_port

REPOSITORY = Path(__file__).resolve().parents[2]
SITE = "https://owner.github.io/niftybaskets/"
KITE_TOKEN = {"kite-token": {"kite-token.json": b'{"user_id": "ZP0001"}'}}


@pytest.fixture
def notify(machine, monkeypatch, capsys):
    """main(argv) on `machine` at `now` (Monday 23 Nov 2026 10:00 IST unless said): (code, stdout, stderr)."""

    def call(*args: str, now: datetime = MONDAY_10AM, **env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(list(args), clock=FakeClock(now))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def pushed_at(github, created_at: str) -> None:
    """kite_login.py --push ran kite-token.yml, which kept the token as an artifact at `created_at` (UTC)."""
    github.add_run("kite-token.yml", KITE_TOKEN).created_at = created_at


def the_fork(github) -> dict[str, str]:
    return {"GITHUB_TOKEN": github.token, "GITHUB_API_URL": github.url}


# --test


def test_test_reaches_every_channel_and_exits_0(notify, webhook, mail, machine):
    code, out, err = notify("--test", NOTIFY_URLS=f"{webhook.url} {mail.url}")
    assert code == 0, err
    assert "✓ json #1: took the test message" in out and "✓ mailto #2: took the test message" in out
    [posted] = webhook.received
    assert posted["title"] == "niftybaskets: test message" and SITE in posted["message"]
    [sent] = mail.mails
    assert sent.recipients == ["owner@example.com"] and sent.login == f"bot {MAIL_PASSWORD}"
    assert "This channel works" in sent.text and SITE in sent.text
    assert secrets_in(webhook.texts[0] + sent.data.decode() + out + err) == []
    assert "Notification sent to json #1, mailto #2." in machine.read_text()


def test_a_channel_that_does_not_take_the_test_is_named_by_scheme_and_place_and_exits_1(notify, webhook, machine):
    webhook.status = 503
    refused = f"json://hook-user:hook-secret-553@127.0.0.1:{closed_port()}/x"
    unparseable = "tgram://not-a-bot-token-secret77/12345"
    code, out, err = notify("--test", NOTIFY_URLS=f"{refused}, {webhook.url} {unparseable}")
    assert code == 1
    for label in ("json #1", "json #2", "tgram #3"):
        assert f"✗ {label}: did not take it" in out
    assert len(webhook.received) == 1  # it was asked, and answered 503
    for secret in ("hook-secret-553", "hook-user", "not-a-bot-token-secret77"):
        assert secret not in out + err
    assert "Notification not delivered to json #1, json #2, tgram #3" in machine.read_text()


def test_test_with_no_channel_set_exits_2_saying_how_to_set_one(notify):
    code, _, err = notify("--test")
    assert code == 2
    assert "NOTIFY_URLS is not set" in err and "tgram://BOT_TOKEN/CHAT_ID" in err


def test_verbose_shows_what_apprise_did_without_a_secret(notify, webhook, mail):
    code, out, err = notify("--test", "-v", NOTIFY_URLS=f"{webhook.url} {mail.url}")
    assert code == 0
    assert "Sent JSON POST notification" in err
    assert secrets_in(out + err) == []


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"NOTIFY_URLS": "tgram://123456789:SECRETBOTTOKEN/42 not-a-url"}, "NOTIFY_URLS: URL #2 is not an apprise URL"),
        ({"NOTIFY_LEVEL": "loud"}, "NOTIFY_LEVEL: must be all"),
    ],
)
def test_a_bad_setting_exits_2_without_repeating_a_url(notify, env, said):
    code, out, err = notify("--test", **env)
    assert code == 2 and said in err
    assert "SECRETBOTTOKEN" not in out + err


def test_help_lists_the_settings_and_examples(notify):
    code, out, _ = notify("--help")
    assert code == 0
    for shown in ("NOTIFY_URLS", "NOTIFY_LEVEL", "GITHUB_TOKEN", "NSE_EXTRA_HOLIDAYS", "--login-reminder"):
        assert shown in out
    assert "python3 scripts/notify.py --test" in out


def test_one_of_test_and_login_reminder_is_needed(notify):
    code, _, err = notify()
    assert code == 2 and "say what to send: --test or --login-reminder" in err
    code, _, err = notify("--test", "--login-reminder")
    assert code == 2 and "not allowed with argument" in err


# --login-reminder


def test_the_reminder_reaches_the_owner_when_nobody_has_logged_in_today(notify, webhook, mail, github):
    pushed_at(github, "2026-11-20T03:00:00Z")  # Friday's login: dead since 06:00 today
    code, out, err = notify(
        "--login-reminder", NOTIFY_URLS=f"{webhook.url},{mail.url}", NOTIFY_LEVEL="problems", **the_fork(github)
    )
    assert code == 0, err
    assert "Sent the login reminder to json #1, mailto #2." in out
    [posted] = webhook.received
    assert posted["title"] == "Kite login needed"
    assert "No Kite login for today's session (Mon 23 Nov) by 10:00 IST" in posted["message"]
    assert "Log in: python3 scripts/kite_login.py --push" in posted["message"] and SITE in posted["message"]
    [sent] = mail.mails
    assert sent.message["subject"] == "Kite login needed" and "kite_login.py --push" in sent.text
    assert secrets_in(webhook.texts[0] + sent.data.decode() + out + err) == []
    assert github.token not in webhook.texts[0] + sent.data.decode()


def test_no_reminder_when_a_login_was_pushed_this_morning(notify, webhook, github):
    pushed_at(github, "2026-11-23T03:00:00Z")  # 08:30 IST
    code, out, _ = notify("--login-reminder", NOTIFY_URLS=webhook.url, **the_fork(github))
    assert code == 0
    assert "No reminder: a Kite login was pushed at Mon 08:30 IST" in out
    assert webhook.received == []


@pytest.mark.parametrize(
    ("now", "env", "said"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=IST), {}, "Tue 24 Nov is not a trading day"),  # Guru Nanak Jayanti
        (datetime(2026, 11, 28, 10, 0, tzinfo=IST), {}, "Sat 28 Nov is not a trading day"),
        (MONDAY_10AM, {"NSE_EXTRA_HOLIDAYS": "2026-11-23"}, "Mon 23 Nov is not a trading day"),
        (datetime(2026, 11, 23, 5, 30, tzinfo=IST), {}, "today's login can be made only after 06:00 IST"),
    ],
)
def test_no_reminder_on_a_day_without_trading_or_before_kite_opens_logins(notify, webhook, github, now, env, said):
    code, out, _ = notify("--login-reminder", now=now, NOTIFY_URLS=webhook.url, **the_fork(github), **env)
    assert code == 0 and f"No reminder: {said}." in out
    assert webhook.received == []


def test_without_channels_the_reminder_asks_nobody_and_exits_0(notify, github):
    code, out, _ = notify("--login-reminder", **the_fork(github))
    assert code == 0 and "NOTIFY_URLS is not set: no reminder to send" in out
    assert github.authorizations == []


def test_when_github_cannot_be_asked_the_reminder_still_goes_and_exits_1(notify, webhook, github):
    code, _, err = notify(
        "--login-reminder",
        NOTIFY_URLS=webhook.url,
        GITHUB_TOKEN=github.token,
        GITHUB_API_URL=f"http://127.0.0.1:{closed_port()}",
    )
    assert code == 1
    assert "warning: could not check GitHub for today's login: could not reach GitHub" in err
    [posted] = webhook.received
    assert "Could not check for a Kite login for today's session (Mon 23 Nov)" in posted["message"]


def test_a_reminder_a_channel_does_not_take_is_a_warning_and_exits_1(notify, webhook, github, machine):
    closed = f"json://127.0.0.1:{closed_port()}/hook"
    code, out, err = notify("--login-reminder", NOTIFY_URLS=f"{webhook.url} {closed}", **the_fork(github))
    assert code == 1
    assert "Sent the login reminder to json #1." in out
    assert "warning: the notification did not reach json #2 of NOTIFY_URLS" in err
    assert "Notification not delivered to json #2" in machine.read_text()
    assert len(webhook.received) == 1


# The script itself


def test_the_script_runs_as_a_program(tmp_path, webhook):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "GITHUB_", "GH_"))}
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "notify.py"), "--test"],
        env={**env, "NOTIFY_URLS": webhook.url, "GITHUB_REPOSITORY": "owner/niftybaskets"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "✓ json #1" in done.stdout and len(webhook.received) == 1
