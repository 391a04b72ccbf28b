"""Channels for the tests' notifications (a json:// webhook and an SMTP server on loopback), a
machine with no settings of its own, and the fake GitHub the login reminder asks."""

from __future__ import annotations

import os

import pytest

from niftybaskets.webserver import BackgroundServer
from tests.notify.receivers import MailServer, Webhook
from tests.workflows.conftest import github  # noqa: F401 - the fake GitHub, one fixture for both

MAIL_PASSWORD = "mail-app-password-4711"
# Secrets a user may have set: none may reach a message.
SECRETS = {
    "KITE_API_SECRET": "kite-secret-9f8e7d6c5b",
    "KITE_ACCESS_TOKEN": "access-token-0a1b2c3d4e",
    "ENCRYPTION_KEY": "ZmVybmV0LWtleS1mb3ItdGhlLXRlc3RzLTEyMzQ1Njc4OTA=",
    "GEMINI_API_KEYS": "AIzaSyTestKeyNumberOne0123456789abcdef",
}


@pytest.fixture
def webhook():
    hook = Webhook()
    with BackgroundServer(hook.app) as server:
        hook.url = f"json://127.0.0.1:{server.port}/hook"
        yield hook


@pytest.fixture
def mail():
    with MailServer() as server:
        server.url = (
            f"mailto://bot:{MAIL_PASSWORD}@127.0.0.1:{server.port}"
            "?smtp=127.0.0.1&from=niftybaskets@example.com&to=owner@example.com"
        )
        yield server


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """This process as a machine with no settings of its own (no .env, no GitHub or Kite variables),
    the fork owner/niftybaskets, the user's secrets set, and a job summary file."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("NOTIFY_", "GITHUB_", "GH_", "KITE_", "GEMINI_", "ENCRYPTION_", "NSE_EXTRA")):
            monkeypatch.delenv(name)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_REPOSITORY", "owner/niftybaskets")
    summary = tmp_path / "summary.md"
    summary.touch()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return summary


def secrets_in(text: str) -> list[str]:
    return [value for value in [*SECRETS.values(), MAIL_PASSWORD] if value in text]
