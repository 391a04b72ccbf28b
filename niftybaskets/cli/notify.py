"""Notifications through apprise (Telegram, email, ntfy, Discord, webhooks...) to the channels in
NOTIFY_URLS: --test sends a test message to every channel; --login-reminder reminds you to log in to
Kite when today is a trading day and no login has been pushed (kite_login.py --push) since 06:00 IST.
The pipeline sends the rebalance result, each new basket and every failed step by itself."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from niftybaskets.actions import add_summary
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import ConfigError, Settings, load_settings
from niftybaskets.errors import DONE, FAILED, NiftyError
from niftybaskets.github import GitHub, GitHubError, repository_from_git
from niftybaskets.market import Clock, NseCalendar, system_clock
from niftybaskets.notify import (
    LOGIN_AND_PUSH,
    Delivery,
    Message,
    Notifier,
    channel_check_message,
    failure_message,
    last_login_pushed,
    login_reminder,
    published_message,
    rebalance_message,
    run_url,
    site_url,
    why_no_reminder,
)

ENVIRONMENT = [
    "NOTIFY_URLS",
    "NOTIFY_LEVEL",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "NSE_EXTRA_HOLIDAYS",
]
EXAMPLES = [
    "python3 scripts/notify.py --test",
    "NOTIFY_URLS='tgram://BOT_TOKEN/CHAT_ID' python3 scripts/notify.py --test",
    "python3 scripts/notify.py --login-reminder",
]
NOTE = (
    "GITHUB_TOKEN (which may read the fork's Actions) and NSE_EXTRA_HOLIDAYS are read for --login-reminder only;\n"
    "GITHUB_REPOSITORY (default: this clone's origin) makes the site's link. README.md, Notifications, sets them up."
)
NOT_SET = (
    "NOTIFY_URLS is not set: put one or more apprise URLs in .env, e.g. NOTIFY_URLS=tgram://BOT_TOKEN/CHAT_ID "
    "(README.md, Notifications), and in the repository's secrets for the workflows"
)


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=ENVIRONMENT, examples=EXAMPLES, note=NOTE)
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--test",
        action="store_true",
        help="send a test message to every channel: exit 0 when all took it, 1 when one did not, 2 when none is set",
    )
    what.add_argument(
        "--login-reminder",
        action="store_true",
        help="remind you to log in (kite_login.py --push) when today is a trading day and no login has reached "
        "GitHub since 06:00 IST; exit 1 when a channel did not take the reminder",
    )
    return parser


def site_of(settings: Settings) -> str | None:
    return site_url(settings.github_repository or repository_from_git(Path.cwd()))


def show(delivery: Delivery, env: Mapping[str, str] = os.environ) -> None:
    """A channel that did not take a message: a warning and a line in the job summary."""
    if delivery.warning:
        print(f"warning: {delivery.warning}", file=sys.stderr)
    if delivery.summary:
        add_summary(delivery.summary, env)


# What the pipeline's steps call: each sends (as NOTIFY_LEVEL allows) and never fails the step.


def tell(settings: Settings, message: Message, env: Mapping[str, str] = os.environ) -> Delivery:
    for problem in settings.notify_problems:
        print(f"warning: {problem}; that setting is skipped", file=sys.stderr)
    try:
        delivery = Notifier.from_settings(settings).send(message)
    except Exception as error:  # a notification never fails the step that sends it
        print(f"warning: the notification was not sent ({type(error).__name__})", file=sys.stderr)
        delivery = Delivery(failed=("every channel",))
    show(delivery, env)
    return delivery


def notify_rebalance(settings: Settings, report_json: Path, env: Mapping[str, str] = os.environ) -> Delivery:
    """The rebalance report (REPORT_JSON) as a message: deficit before and after, orders, why it stopped."""
    try:
        report = json.loads(report_json.read_text(encoding="utf-8"))
        message = rebalance_message(report, run_url(env), site_of(settings))
    except (OSError, ValueError, LookupError, TypeError, AttributeError) as error:  # none, or not a report
        print(f"warning: no rebalance result to notify: cannot read {report_json} ({error!r})", file=sys.stderr)
        return Delivery(skipped=f"cannot read {report_json}")
    return tell(settings, message, env)


def notify_published(settings: Settings, basket_json: Path, env: Mapping[str, str] = os.environ) -> Delivery:
    """A new basket: its page, stocks and weights, and the scored ledger's latest line."""
    try:
        message = published_message(settings.docs_dir, basket_json, site_of(settings))
    except (NiftyError, OSError, ValueError, LookupError, TypeError) as error:  # a page or ledger not as written
        print(f"warning: the new basket is not notified: {error}", file=sys.stderr)
        return Delivery(skipped=str(error))
    return tell(settings, message, env)


def notify_failure(
    settings: Settings, step: str, reason: str, next_step: str = "", env: Mapping[str, str] = os.environ
) -> Delivery:
    """A failed step, with its one-line reason and what to do next."""
    return tell(settings, failure_message(step, reason, next_step, run_url(env)), env)


def notify_login_needed(
    settings: Settings, command: str = LOGIN_AND_PUSH, clock: Clock = system_clock, env: Mapping[str, str] = os.environ
) -> Delivery:
    """No valid Kite login for today's session (run.sh's rebalance step: the login command without --push)."""
    return tell(settings, login_reminder(clock(), site_of(settings), command), env)


# The script


def send_test(settings: Settings) -> int:
    notifier = Notifier.from_settings(settings)
    if not notifier.configured:
        raise ConfigError(NOT_SET)
    delivery = notifier.deliver(channel_check_message(site_of(settings)))
    for label in delivery.sent:
        print(f"✓ {label}: took the test message")
    for label in delivery.failed:
        print(f"✗ {label}: did not take it (apprise's warning above says why; -v for more)")
    add_summary(delivery.summary)
    return FAILED if delivery.failed else DONE


def remind(settings: Settings, clock: Clock) -> int:
    notifier = Notifier.from_settings(settings)
    if not notifier.configured:
        print("NOTIFY_URLS is not set: no reminder to send (README.md, Notifications, sets it up).")
        return DONE
    now = clock()
    trouble = ""
    try:
        last_login = last_login_pushed(GitHub.from_settings(settings, Path.cwd()))
    except GitHubError as error:
        last_login, trouble = None, str(error)
        print(f"warning: could not check GitHub for today's login: {trouble}", file=sys.stderr)
    why_not = why_no_reminder(NseCalendar(settings.nse_extra_holidays), now, last_login)
    if why_not:
        print(f"No reminder: {why_not}.")
        return FAILED if trouble else DONE
    delivery = notifier.send(login_reminder(now, site_of(settings), checked=not trouble))
    if delivery.sent:
        print(f"Sent the login reminder to {', '.join(delivery.sent)}.")
    show(delivery)
    return FAILED if trouble or delivery.failed else DONE


def main(argv: Sequence[str] | None = None, clock: Clock = system_clock) -> int:
    parser = build_parser()

    def body(args: argparse.Namespace) -> int:
        if not (args.test or args.login_reminder):
            parser.error("say what to send: --test or --login-reminder")
        settings = load_settings()
        if settings.notify_problems:
            raise ConfigError("; ".join(settings.notify_problems))
        return send_test(settings) if args.test else remind(settings, clock)

    return run(parser, argv, body)
