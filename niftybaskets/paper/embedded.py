"""A paper exchange inside this process, on a loopback port, for the demo, tests and `--paper` runs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from kiteconnect import KiteConnect

from niftybaskets.paper.account_file import AccountFile
from niftybaskets.paper.app import create_app
from niftybaskets.paper.exchange import PaperExchange
from niftybaskets.paper.storage import Storage
from niftybaskets.webserver import BackgroundServer


def login(root: str, api_key: str, api_secret: str, user_id: str | None = None) -> KiteConnect:
    """Kite's login as a program sees it: follow /connect/login, exchange the request token.

    `user_id` picks one of several accounts sharing the app, as typing that person's credentials would.
    """
    params = {"api_key": api_key, "v": "3", **({"user_id": user_id} if user_id else {})}
    response = requests.get(f"{root}/connect/login", params=params, allow_redirects=False, timeout=10)
    location = response.headers.get("location", "")
    tokens = parse_qs(urlsplit(location).query).get("request_token")
    if response.status_code != 302 or not tokens:
        raise RuntimeError(f"the paper exchange refused the login: HTTP {response.status_code} {response.text[:200]}")
    kite = KiteConnect(api_key, root=root)
    kite.generate_session(tokens[0], api_secret)
    return kite


class EmbeddedExchange:
    """`with EmbeddedExchange(setup, db) as paper: kite = paper.login()`."""

    def __init__(self, setup: AccountFile, db_path: Path | str, port: int = 0, **exchange_options: object) -> None:
        self.setup = setup
        self.storage = Storage(db_path)
        self.exchange = PaperExchange(setup, self.storage, **exchange_options)
        self.server = BackgroundServer(create_app(self.exchange), port=port)

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, user_id: str | None = None) -> KiteConnect:
        accounts = {seed.user_id: seed for seed in self.setup.all_accounts()}
        seed = accounts[user_id] if user_id else self.setup.all_accounts()[0]
        return login(self.url, seed.api_key, seed.api_secret, seed.user_id)

    def __enter__(self) -> EmbeddedExchange:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.storage.close()
