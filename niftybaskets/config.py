"""One settings object, read from the environment and an optional `.env` file.

Names and defaults are the contract in DESIGN.md; secrets are `SecretStr` so a settings object
never prints them.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from niftybaskets.errors import InputError

DEFAULT_INDEX = "NIFTY SMALLCAP 250"  # what the research and its workflow trade when no index is named
DEFAULT_KITE_API_ROOT = "https://api.kite.trade"
KITE_LOGIN_PAGE = "https://kite.zerodha.com/connect/login"
DEFAULT_REDIRECT_URL = "http://127.0.0.1:8080/callback"
DEFAULT_NSE_BASE_URL = "https://www.nseindia.com"
DEFAULT_NIFTY_INDICES_BASE_URL = "https://niftyindices.com/IndexConstituent"
DEFAULT_YAHOO_BASE_URL = "https://query1.finance.yahoo.com"
# The shape of a Gemini API key: scrubbed from any text shown, should an error quote one.
GEMINI_KEY_PATTERN = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")
DEFAULT_MARKET_DATA_SOURCES = ["nse", "niftyindices", "yahoo"]
DEFAULT_GITHUB_API_URL = "https://api.github.com"
NOTIFY_LEVELS = ("all", "problems")  # everything; or only failures, refusals, money left unspent and reminders
# Where one apprise URL ends in NOTIFY_URLS: at blanks, or at a comma or semicolon before the next
# `scheme://` (a comma inside a URL, as in `?to=a@x.com,b@x.com`, stays in it), as apprise splits them.
NOTIFY_URL_BREAK = re.compile(r"\s+|[,;]+\s*(?=[A-Za-z0-9]{1,32}://)")
# The base URLs a user may point elsewhere (a paper exchange, a fake, GitHub Enterprise): each must be an
# http(s) URL with a host. Empty means the default; for these two, the service's own choice.
URL_SETTINGS = {
    "kite_api_root": DEFAULT_KITE_API_ROOT,
    "kite_login_url": "",
    "nse_base_url": DEFAULT_NSE_BASE_URL,
    "nifty_indices_base_url": DEFAULT_NIFTY_INDICES_BASE_URL,
    "yahoo_base_url": DEFAULT_YAHOO_BASE_URL,
    "gemini_base_url": "",
    "github_api_url": DEFAULT_GITHUB_API_URL,
}

# What to tell a user who has not set a required variable.
HOW_TO_SET = {
    "kite_api_key": "KITE_API_KEY is not set: copy your Kite Connect app's API key into .env "
    "(developers.kite.trade > your app; see README_REBALANCING.md)",
    "kite_api_secret": "KITE_API_SECRET is not set: copy your Kite Connect app's API secret into .env "
    "(developers.kite.trade > your app; see README_REBALANCING.md)",
    "gemini_keys": "GEMINI_API_KEYS is not set: put one or more Gemini API keys (aistudio.google.com, "
    "comma-separated) in .env, or in the repository's secrets for the workflows",
    "encryption_key": "ENCRYPTION_KEY is not set: generate one with "
    '`python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
    "and put it in .env (and in the repository's secrets for the workflows)",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    kite_api_key: str = ""
    kite_api_secret: SecretStr = SecretStr("")
    kite_api_root: str = DEFAULT_KITE_API_ROOT
    kite_login_url: str = ""
    kite_redirect_url: str = DEFAULT_REDIRECT_URL
    kite_access_token: SecretStr = SecretStr("")
    encryption_key: SecretStr = SecretStr("")
    nse_base_url: str = DEFAULT_NSE_BASE_URL
    nifty_indices_base_url: str = DEFAULT_NIFTY_INDICES_BASE_URL
    yahoo_base_url: str = DEFAULT_YAHOO_BASE_URL
    # The market-data sources to ask, in order (Kite is asked first where a login is at hand).
    market_data_sources: Annotated[list[str], NoDecode] = DEFAULT_MARKET_DATA_SOURCES
    data_dir: Path = Path("data")
    nse_extra_holidays: Annotated[list[date], NoDecode] = []
    gemini_api_keys: Annotated[list[SecretStr], NoDecode] = []
    gemini_api_key: SecretStr = SecretStr("")
    gemini_base_url: str = ""
    gemini_model: str = ""  # overrides the model named in the prompt files
    docs_dir: Path = Path("docs")
    # GitHub, for kite_login.py --push and the workflows' steps (GH_TOKEN is the gh CLI's name).
    github_token: SecretStr = SecretStr("")
    gh_token: SecretStr = SecretStr("")
    github_repository: str = ""
    github_api_url: str = DEFAULT_GITHUB_API_URL
    # Notifications (niftybaskets.notify): apprise URLs, each a secret (a bot token, a mail password).
    notify_urls: Annotated[list[SecretStr], NoDecode] = []
    notify_level: str = "all"

    @field_validator(*URL_SETTINGS, mode="before")
    @classmethod
    def _http_url(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return URL_SETTINGS[info.field_name]
        try:
            parts = urlsplit(text)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a bad port or IPv6 address
            valid = False
        if not valid or not text.isascii() or any(ch.isspace() or not ch.isprintable() for ch in text):
            # A password written into the URL (user:password@host) is not repeated in the message.
            hidden = re.sub(r"//[^/]*@", "//...@", text)
            shown = ascii(hidden[:60]) + ("..." if len(hidden) > 60 else "")
            example = URL_SETTINGS[info.field_name] or "http://127.0.0.1:8765"
            raise ValueError(f"must be an http:// or https:// URL with a host, e.g. {example}, not {shown}")
        return text

    @field_validator("gemini_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def gemini_keys(self) -> list[str]:
        """GEMINI_API_KEYS, or the single GEMINI_API_KEY; never printed."""
        keys = [key.get_secret_value() for key in self.gemini_api_keys]
        single = self.gemini_api_key.get_secret_value()
        return keys or ([single] if single else [])

    @field_validator("notify_urls", mode="before")
    @classmethod
    def _split_notify_urls(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        # Not checked here: a typo in a notification setting must not stop a rebalance (notify_problems).
        urls = [part.strip(",; ") for part in NOTIFY_URL_BREAK.split(value.strip())]
        return [url for url in urls if url]

    @field_validator("notify_level", mode="before")
    @classmethod
    def _notify_level(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().lower() or "all"

    @field_validator("market_data_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("nse_extra_holidays", mode="before")
    @classmethod
    def _split_dates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def login_page(self) -> str:
        """Kite's login page; with KITE_API_ROOT pointing elsewhere (the paper exchange), that server's."""
        if self.kite_login_url:
            return self.kite_login_url
        root = self.kite_api_root.rstrip("/")
        return KITE_LOGIN_PAGE if root == DEFAULT_KITE_API_ROOT else f"{root}/connect/login"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "niftybaskets.sqlite"

    @property
    def prices_path(self) -> Path:
        """The scored ledger's price cache: a file of its own, so it can travel between workflow runs
        without the store's tokens and Gemini answers."""
        return self.data_dir / "prices.sqlite"

    @property
    def unexpected_dir(self) -> Path:
        """Where answers a parser did not understand are kept, for a bug report."""
        return self.data_dir / "unexpected"

    @property
    def notify_problems(self) -> list[str]:
        """What is wrong with NOTIFY_URLS and NOTIFY_LEVEL: a URL is named by its place only (it holds a
        secret). The notifications skip what is wrong and say so; only scripts/notify.py refuses it."""
        problems = [
            f"NOTIFY_URLS: URL #{number} is not an apprise URL (SCHEME://..., e.g. tgram://BOT_TOKEN/CHAT_ID)"
            for number, url in enumerate(self.notify_urls, start=1)
            if not re.match(r"[A-Za-z0-9]{1,32}://.", url.get_secret_value())
        ]
        if self.notify_level not in NOTIFY_LEVELS:
            problems.append(
                "NOTIFY_LEVEL: must be all (every result) or problems (failures, refusals, money left unspent and "
                f"reminders), not {self.notify_level[:20]!a}"
            )
        return problems

    def require(self, *names: str) -> None:
        """Raise ConfigError naming each required setting that is empty, and how to set it."""
        missing = []
        for name in names:
            value = getattr(self, name)
            if not (value.get_secret_value() if isinstance(value, SecretStr) else value):
                missing.append(HOW_TO_SET[name])
        if missing:
            raise ConfigError("; ".join(missing))


class ConfigError(InputError, ValueError):
    """A setting cannot be used; the message names it and the expected form."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{str(issue['loc'][0]).upper()}: {issue['msg']}" for issue in error.errors() if issue["loc"]
        )
        raise ConfigError(f"bad setting in the environment or .env: {problems}") from None
