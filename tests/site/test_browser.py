"""The built site in a real headless Chromium, served the way GitHub Pages serves it, at a phone's size."""

import html
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from niftybaskets.site.build import build_site
from tests.site.conftest import SMALLCAP, Page, published_weights, shown_weights

PHONE = (390, 844)  # CSS pixels of a current phone held upright
# Chromium's windows are at least 500px wide, so /phone/PATH shows PATH in a phone-sized frame; every
# served page reports its layout on its frame's <html> element, where --dump-dom shows it.
PHONE_FRAME = "/phone/"
MEASURE = (
    b"<script>Object.assign(window.parent.document.documentElement.dataset,"
    b" {viewportWidth: window.innerWidth, pageWidth: document.documentElement.scrollWidth});</script>"
)
# Once the page has loaded, its <html> element lists the images that did not load (or were empty).
IMAGES = (
    b"<script>addEventListener('load', () => Object.assign(document.documentElement.dataset, {"
    b" images: document.images.length, brokenImages: JSON.stringify([...document.images]"
    b".filter(image => !image.complete || image.naturalWidth === 0).map(image => image.getAttribute('src')))"
    b"}));</script>"
)


def chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PagesHandler(SimpleHTTPRequestHandler):
    """GitHub Pages' way: NAME.html is served at NAME too; HTML pages get the MEASURE script."""

    def send_html(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def translate_path(self, path: str) -> str:
        local = super().translate_path(path)
        if not os.path.exists(local) and os.path.isfile(local + ".html"):
            return local + ".html"
        return local

    def do_GET(self) -> None:
        if self.path.startswith(PHONE_FRAME):
            page = html.escape("/" + self.path.removeprefix(PHONE_FRAME))
            frame = f"<iframe src='{page}' width='{PHONE[0]}' height='{PHONE[1]}' style='border: 0'></iframe>"
            return self.send_html(f"<!doctype html><html><body style='margin: 0'>{frame}</body></html>".encode())
        local = self.translate_path(self.path)
        if os.path.isdir(local) and self.path.split("?")[0].endswith("/"):
            local = os.path.join(local, "index.html")
        if not (local.endswith(".html") and os.path.isfile(local)):
            return super().do_GET()
        return self.send_html(Path(local).read_bytes().replace(b"</body>", MEASURE + IMAGES + b"</body>"))

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served(out: Path) -> Iterator[str]:
    """A built site served the way GitHub Pages serves it, on an ephemeral loopback port: its root URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(PagesHandler, directory=str(out)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def site(sample, tmp_path) -> Iterator[str]:
    """The sample docs built and served: the site's root URL."""
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    with served(out) as url:
        yield url


def dom_of(url: str, profiles: Path) -> str:
    """The page's DOM once headless Chromium has loaded it, with a fresh profile."""
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium not installed: scripts/ensure_chromium.sh installs it (Debian package chromium)")
    profiles.mkdir(exist_ok=True)
    profile = profiles / f"profile-{len(list(profiles.iterdir()))}"
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"Chromium exited {result.returncode}: {result.stderr[-2000:]}"
    assert "<html" in result.stdout, f"Chromium dumped no page for {url}: {result.stderr[-2000:]}"
    return result.stdout


def on_a_phone(url: str, profiles: Path) -> tuple[int, int]:
    """(viewport width, page width) of the page at `url` as Chromium lays it out in a phone-sized frame."""
    root = Page.of(dom_of(urljoin(url, PHONE_FRAME + urlsplit(url).path.lstrip("/")), profiles)).root
    return int(root["data-viewport-width"]), int(root["data-page-width"])


def test_a_reader_on_a_phone_follows_the_latest_basket_from_the_index_to_its_weights(sample, site, tmp_path):
    profiles = tmp_path / "profiles"
    index = dom_of(site, profiles)
    latest = [link for link in Page.of(index).links if link.section == "Latest baskets"]
    link = next(link for link in latest if link.text.startswith(SMALLCAP))
    assert not link.href.endswith(".html")
    url = urljoin(site, link.href)
    assert unquote(url) == f"{site}baskets/{sample.latest.stem}"

    basket = dom_of(url, profiles)
    page = Page.of(basket)
    assert page.title == f"{SMALLCAP} basket of {sample.latest.created:%d %b %Y}"
    assert shown_weights(page) == published_weights(sample.docs / "baskets" / f"{sample.latest.stem}.json")
    assert shown_weights(page) == [("BETA", "45.00%"), ("DELTA", "35.00%"), ("ALPHA", "20.00%")]

    for page_url in (site, url):
        viewport, width = on_a_phone(page_url, profiles)
        assert viewport == PHONE[0], "the phone-sized frame did not load the page"
        assert width <= viewport, f"{page_url} is {width}px wide on a {viewport}px phone: readers scroll sideways"
