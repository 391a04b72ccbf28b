"""What every provider answers with, and how it fails."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from niftybaskets.errors import NiftyError
from niftybaskets.ratelimit import Limits, RateLimiter

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    ),
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9",
}
# Query parameters and headers that can carry a credential: never written to disk.
SECRET_NAMES = re.compile(r"key|token|secret|pass|auth|cookie|crumb|session|sig", re.IGNORECASE)
UNEXPECTED_BODY_LIMIT = 2_000_000


class MarketDataError(NiftyError):
    """A provider gave nothing usable; the message says why and what to try."""


class NotFound(MarketDataError):
    """The provider answered, but has nothing for that symbol or index."""


class SourceDown(MarketDataError):
    """The provider refused or could not be reached: asking it again for another symbol will not help."""


class UnexpectedAnswer(MarketDataError):
    """The provider answered something the parser does not understand; the raw answer was kept."""


@dataclass(frozen=True)
class Quote:
    symbol: str
    last_price: float
    source: str
    previous_close: float | None = None
    lower_circuit: float | None = None
    upper_circuit: float | None = None


@dataclass(frozen=True)
class Failure:
    source: str
    reason: str
    refused: bool = True  # the source refused or was not understood; False: it has nothing for that

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class WebSource:
    """What every web source has: its address, a session that looks like a browser (NSE and Yahoo
    refuse clients that do not), a pace it is asked at, and where answers it cannot read are kept."""

    name: str
    title: str  # as a person calls it
    default_base_url: str
    accept = BROWSER_HEADERS["Accept"]
    limits: Limits = ()

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float = 10.0,
        unexpected_dir: Path | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout
        self.unexpected_dir = unexpected_dir
        self.limiter = limiter or RateLimiter()
        self.session = requests.Session()
        self.session.headers.update({**BROWSER_HEADERS, "Accept": self.accept})
        # One session for every thread (the paper exchange's price refresher and its requests).
        self.lock = threading.RLock()

    def get(self, url: str, **options: Any) -> requests.Response:
        """One request, within the source's pace; not reaching the source is SourceDown."""
        self.limiter.acquire(self.name, self.limits)
        try:
            with self.lock:
                return self.session.get(url, timeout=self.timeout, **options)
        except requests.RequestException as error:
            raise SourceDown(f"{self.title} could not be reached ({type(error).__name__}: {error})") from None

    def unexpected(self, response: requests.Response, why: str) -> UnexpectedAnswer:
        """The error for an answer not understood, naming the file the raw answer was kept in."""
        path = save_unexpected(self.unexpected_dir, self.name, response, why)
        kept = f"; the answer is saved in {path}: attach it to a bug report" if path else ""
        route = urlsplit(response.url).path
        return UnexpectedAnswer(f"{self.title} answered {route} in a shape we do not know ({why}){kept}")


def redacted_url(url: str) -> str:
    parts = urlsplit(url)
    query = [(name, "REDACTED" if SECRET_NAMES.search(name) else value) for name, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def save_unexpected(directory: Path | None, source: str, response: requests.Response, why: str) -> Path | None:
    """Keep an answer the parser did not understand (no cookies, keys or tokens) for a bug report."""
    if directory is None:
        return None
    request_headers = response.request.headers if response.request is not None else {}
    lines = [
        f"# {source}: {why}",
        f"# {response.request.method if response.request is not None else 'GET'} {redacted_url(response.url)}",
        f"# HTTP {response.status_code} {response.reason or ''}".rstrip(),
        *(f"# response {name}: {value}" for name, value in response.headers.items() if not SECRET_NAMES.search(name)),
        *(f"# request {name}: {value}" for name, value in request_headers.items() if not SECRET_NAMES.search(name)),
        "",
        response.content[:UNEXPECTED_BODY_LIMIT].decode(response.encoding or "utf-8", errors="replace"),
    ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    route = re.sub(r"[^A-Za-z0-9]+", "-", urlsplit(response.url).path).strip("-")[:80] or "root"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{stamp}-{source}-{route}.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        path.chmod(0o600)
    except OSError:
        return None  # keeping the evidence must never hide the error itself
    return path


def number(value: object) -> float | None:
    """A price as the providers write it: a number, or a string with thousands commas; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


def positive(value: object) -> float | None:
    result = number(value)
    return result if result is not None and result > 0 else None
