"""A scratch clone of this working tree with a bare remote, and the fakes a workflow talks to."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from niftybaskets.doctor import PING as DOCTOR_PING
from niftybaskets.webserver import BackgroundServer
from tests.fakes.gemini import answer
from tests.fakes.github import FakeGitHub
from tests.fakes.nse import quote_payload
from tests.notify.receivers import Webhook
from tests.research.conftest import INDEX, STOCKS, gemini_server, nse, web  # noqa: F401 - fixtures
from tests.research.test_portfolio import basket_answer

REPOSITORY = Path(__file__).resolve().parents[2]
BOT = "github-actions[bot]"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@dataclass
class Scratch:
    checkout: Path
    remote: Path

    def remote_git(self, *args: str) -> str:
        return git(self.remote, *args)


@pytest.fixture
def scratch(tmp_path) -> Scratch:
    """This working tree (tracked and new files, as they are now) committed to a fresh clone whose
    `origin` is a bare repository: what a workflow's checkout of a fork looks like."""
    listed = git(REPOSITORY, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    checkout, remote = tmp_path / "checkout", tmp_path / "remote.git"
    for name in filter(None, listed):
        source = REPOSITORY / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", "The fork")
    git(checkout, "remote", "add", "origin", str(remote))
    git(checkout, "push", "-q", "-u", "origin", "main")
    (checkout / ".venv").symlink_to(REPOSITORY / ".venv")
    return Scratch(checkout, remote)


@pytest.fixture
def github():
    fake = FakeGitHub()
    with BackgroundServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def research_world(nse, gemini_server):  # noqa: F811 - the imported fixtures
    """NSE knows the index and quotes its stocks; Gemini forecasts each and picks two for the basket."""
    for symbol, price in STOCKS.items():
        nse.quotes[symbol] = quote_payload(symbol, price, price, str(round(price * 0.8, 2)), str(round(price * 1.2, 2)))
    nse.quotes["RELIANCE"] = quote_payload("RELIANCE", 1300.0, 1290.0, "1161.00", "1419.00")  # doctor.py's quote
    forecast = gemini_server.respond

    def respond(call):
        if call.prompt == DOCTOR_PING:  # doctor.py asks each key for a word
            return answer("OK")
        return basket_answer(call, k=2) if call.prompt.startswith("Index:") else forecast(call)

    gemini_server.respond = respond
    return nse, gemini_server, INDEX


@pytest.fixture
def kite(make_paper):
    """The paper exchange as the user's Kite account, pricing every stock of the research's index."""
    return make_paper(prices={**STOCKS, "INFY": 1500, "TCS": 3500})


@pytest.fixture
def phone():
    """The owner's phone: a json:// webhook that keeps what apprise posts to it."""
    hook = Webhook()
    with BackgroundServer(hook.app) as server:
        hook.url = f"json://127.0.0.1:{server.port}/phone"
        yield hook
