"""A Kite login world: the paper exchange as Kite, a callback port, settings and a stand-in browser."""

from __future__ import annotations

import socket
from urllib.parse import urljoin

import pytest
import requests
from cryptography.fernet import Fernet

from niftybaskets.config import Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.sessions import Sessions
from niftybaskets.store import TokenStore

KEY = Fernet.generate_key().decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Stands in for the person at the browser: follows redirects, and at Kite's login page types
    the credentials of `user_id` (the paper exchange's stand-in takes it as a parameter)."""

    def __init__(self, user_id: str | None = None) -> None:
        self.user_id = user_id
        self.pages: list[requests.Response] = []

    def __call__(self, url: str) -> None:
        for _ in range(5):
            response = requests.get(url, allow_redirects=False, timeout=10)
            self.pages.append(response)
            if response.status_code not in (301, 302, 303, 307):
                return
            url = urljoin(url, response.headers["location"])
            if self.user_id and "/connect/login" in url:
                url += f"&user_id={self.user_id}"

    @property
    def last(self) -> requests.Response:
        return self.pages[-1]


class World:
    def __init__(self, paper, port: int, settings: Settings) -> None:
        self.paper = paper
        self.port = port
        self.settings = settings
        self.messages: list[str] = []
        self.links: list[str] = []
        self.store = TokenStore(settings.store_path)
        self.sessions = Sessions(settings, self.store, fernet_from_key(KEY), say=self.messages.append)

    @property
    def callback(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def output(self) -> str:
        return "\n".join(self.messages + self.links)


def make_settings(paper_url: str, tmp_path, port: int, **overrides) -> Settings:
    values = {
        "kite_api_key": "paperkey",
        "kite_api_secret": "papersecret",
        "kite_api_root": paper_url,
        "kite_login_url": "",
        "kite_access_token": "",
        "kite_redirect_url": f"http://127.0.0.1:{port}/callback",
        "encryption_key": KEY,
        "data_dir": tmp_path,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def world(make_paper, tmp_path):
    port = free_port()
    paper = make_paper(
        redirect_url=f"http://127.0.0.1:{port}/callback",
        rules={"token_expiry": False},
        accounts=[
            {"user_id": "ZP0002", "user_name": "Family Member", "api_key": "paperkey", "api_secret": "papersecret"}
        ],
    )
    world = World(paper, port, make_settings(paper.url, tmp_path, port))
    yield world
    world.store.close()
