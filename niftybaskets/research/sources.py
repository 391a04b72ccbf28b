"""Source pages: grounding links are redirects; follow them to the page, and drop the dead ones."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from niftybaskets.marketdata.answers import BROWSER_HEADERS


class SourceResolver:
    def __init__(self, timeout: float = 10.0, workers: int = 8, schemes: tuple[str, ...] = ("https",)) -> None:
        self.timeout = timeout
        self.workers = workers
        self.schemes = schemes
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update({"User-Agent": BROWSER_HEADERS["User-Agent"]})
        return self._local.session

    def _final(self, url: str) -> str | None:
        with self._lock:
            if url in self._cache:
                return self._cache[url]
        try:
            response = self._session().get(url, allow_redirects=True, timeout=self.timeout, stream=True)
            response.close()
            final = (
                response.url if response.status_code < 400 and urlsplit(response.url).scheme in self.schemes else None
            )
        except requests.RequestException:
            final = None
        with self._lock:
            self._cache[url] = final
        return final

    def resolve(self, urls: list[str]) -> list[str]:
        """Where each link lands, in order, without the dead (4xx/5xx, unreachable), those landing
        outside `schemes` (https) and repeats."""
        if not urls:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(urls))) as pool:
            finals = list(pool.map(self._final, urls))
        return list(dict.fromkeys(final for final in finals if final))
