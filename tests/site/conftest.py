"""A docs/ tree published by the project's own code, and a reader of the built HTML pages."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from niftybaskets.baskets import Candidate, Published
from niftybaskets.market import IST
from niftybaskets.site.baskets import write_basket
from niftybaskets.site.index_page import update_index

REPOSITORY = Path(__file__).resolve().parents[2]
SMALLCAP = "NIFTY SMALLCAP 250"  # a space in the name: the links are percent-encoded
NIFTY50 = "NIFTY 50"
SOURCES = {
    "ALPHA": [
        "https://economictimes.indiatimes.com/markets/stocks/news/alpha-results-beat-estimates/articleshow/1.cms"
    ],
    "BETA": [
        "https://www.moneycontrol.com/news/business/earnings/beta-q2-profit-rises.html",
        "https://www.nseindia.com/",
    ],
    "GAMMA": [],
    "DELTA": ["https://www.business-standard.com/markets/news/delta-order-book-123.html"],
    "EPSILON": ["https://www.livemint.com/market/stock-market-news/epsilon.html"],
}


def candidate(symbol: str, gain: float) -> Candidate:
    return Candidate(
        symbol=symbol,
        industry="Capital Goods",
        gain=gain,
        passes=2,
        spread=1.25,
        targets=[100.0, 101.25],
        last_price=95.0,
        horizon_days=7,
        reasoning=f"{symbol}: order book and margins improving.",
        sources=SOURCES[symbol],
    )


POOL = [
    candidate(symbol, gain)
    for symbol, gain in [("ALPHA", 6.5), ("BETA", 5.0), ("GAMMA", 4.2), ("DELTA", 3.1), ("EPSILON", 2.4)]
]


@dataclass
class Sample:
    docs: Path
    latest: Published  # the newest SMALLCAP basket
    older: Published  # a week older: history
    other: Published  # the only NIFTY 50 basket: latest too


def november(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=IST)


def publish(docs: Path, index: str, created: datetime, weights: dict[str, float]) -> Published:
    published = write_basket(docs, index, created, POOL, weights, "Diversified across the strongest forecasts.")
    update_index(docs)
    return published


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    """The repository's docs/index.md with three baskets published by the project's functions."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(REPOSITORY / "docs" / "index.md", docs / "index.md")
    older = publish(docs, SMALLCAP, november(15, 9, 30), {"ALPHA": 0.5, "BETA": 0.3, "GAMMA": 0.2})
    other = publish(docs, NIFTY50, november(22, 8, 0), {"GAMMA": 0.6, "DELTA": 0.4})
    latest = publish(docs, SMALLCAP, november(22, 9, 30), {"BETA": 0.45, "DELTA": 0.35, "ALPHA": 0.2})
    return Sample(docs, latest, older, other)


@dataclass
class Link:
    section: str  # the <h2> the link comes after ("" before any)
    href: str
    text: str = ""


class Page(HTMLParser):
    """What a reader sees of an HTML page: its title, meta tags, headings, links and tables."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.meta: dict[str, str] = {}
        self.h1 = ""
        self.links: list[Link] = []
        self.tables: list[list[list[str]]] = []
        self.root: dict[str, str] = {}  # the <html> element's attributes
        self.section = ""
        self.inside: list[str] = []
        self.cell: list[str] | None = None

    @classmethod
    def of(cls, html: str) -> Page:
        page = cls()
        page.feed(html)
        page.close()
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.root = attributes
        elif tag == "meta" and "name" in attributes:
            self.meta[attributes["name"]] = attributes.get("content", "")
        elif tag == "a" and "href" in attributes:
            self.links.append(Link(self.section, attributes["href"]))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
        if tag in ("title", "h1", "h2", "a"):
            self.inside.append(tag)
            if tag == "h2":
                self.section = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        if self.inside and self.inside[-1] == tag:
            self.inside.pop()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)
        for tag in self.inside:
            if tag == "title":
                self.title += data
            elif tag == "h1":
                self.h1 += data
            elif tag == "h2":
                self.section += data
            elif tag == "a":
                self.links[-1].text += data

    def table_with(self, *header: str) -> list[list[str]]:
        """The rows (header row left out) of the first table whose header starts with `header`."""
        for table in self.tables:
            if table and tuple(table[0][: len(header)]) == header:
                return table[1:]
        raise AssertionError(f"no table with the header {header} among {[t[0] for t in self.tables if t]}")


def shown_weights(page: Page) -> list[tuple[str, str]]:
    """(stock, weight) as the basket page's weights table shows them, top to bottom."""
    return [(row[0], row[1]) for row in page.table_with("Stock", "Weight")]


def published_weights(basket_json: Path) -> list[tuple[str, str]]:
    """(stock, weight as a percentage) from the basket's JSON, the file the rebalancer reads."""
    stocks = json.loads(basket_json.read_text(encoding="utf-8"))["stocks"]
    return [(stock["stock_ticker"], f"{stock['weight']:.2%}") for stock in stocks]
