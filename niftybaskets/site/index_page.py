"""docs/index.md: the latest basket per index on top, older ones in a history list.

The two lists are rebuilt from the files in docs/baskets every time, between marker comments, so
running the update twice changes nothing and never duplicates a line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from niftybaskets.baskets import Published, published

START, END = "<!-- baskets:start -->", "<!-- baskets:end -->"
HEADER = """# niftybaskets

Weekly baskets of NSE stocks, researched by Gemini with Google Search and published here. Each
basket page lists its stocks, weights, expected gain and sources, with every forecast behind it.
Not investment advice.
"""


def line(basket: Published) -> str:
    return f"- [{basket.index}, {basket.created:%d %b %Y %H:%M} IST, {basket.k} of {basket.n}]({basket.page})"


def ledgers(docs: Path) -> list[tuple[str, str]]:
    """(index, page path from docs/ without `.md`) of each scored ledger page in docs/performance."""
    found = []
    for page in sorted((docs / "performance").glob("*.md")):
        heading = page.read_text(encoding="utf-8").partition("\n")[0]
        found.append((heading.removeprefix("# Scored ledger: ").strip(), f"performance/{page.stem}"))
    return found


def render_lists(baskets: list[Published], scored: Sequence[tuple[str, str]] = ()) -> str:
    """The lists, from `baskets` given newest first."""
    latest: dict[str, Published] = {}
    for basket in baskets:
        latest.setdefault(basket.index, basket)
    newest = sorted(latest.values(), key=lambda b: b.index)
    history = [b for b in baskets if latest[b.index] is not b]
    parts = [START, "## Latest baskets", "", *(line(b) for b in newest)]
    if not newest:
        parts.append("None yet: the research workflow publishes the first one.")
    if scored:
        parts += ["", "## Scored ledger", "", "How every basket did against the index, after costs:", ""]
        parts += [f"- [{index}]({page})" for index, page in scored]
    if history:
        parts += ["", "## History", "", *(line(b) for b in history)]
    return "\n".join([*parts, END])


def update_index(docs: Path) -> Path:
    path = docs / "index.md"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    lists = render_lists(published(docs)[::-1], ledgers(docs))
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    text = pattern.sub(lambda _: lists, text) if pattern.search(text) else text.rstrip() + "\n\n" + lists + "\n"
    path.write_text(text, encoding="utf-8")
    return path
