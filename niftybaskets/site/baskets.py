"""Publishing a basket on the Pages site: its data files (niftybaskets.baskets) and its page,
docs/baskets/{stem}.md, for people to read."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from niftybaskets.baskets import FOLDER, Candidate, Published, by_weight, expected_gain, rounded, write_basket_data
from niftybaskets.market import IST


def domain(url: str) -> str:
    return urlsplit(url).netloc or url


def write_basket(
    docs: Path,
    index: str,
    created: datetime,
    pool: Sequence[Candidate],
    weights: dict[str, float],
    reason: str,
) -> Published:
    """Write the basket (JSON the rebalancer reads, Markdown people read) and its forecasts file."""
    published = write_basket_data(docs, index, created, pool, weights, reason)
    weights = rounded(weights)  # as the JSON has them
    by_symbol = {c.symbol: c for c in pool}
    rows = []
    for symbol in by_weight(weights):
        candidate = by_symbol[symbol]
        links = "<br>".join(f"[{domain(url)}]({url})" for url in candidate.sources) or "-"
        rows.append(
            f"| {symbol} | {weights[symbol]:.2%} | {candidate.gain:+.2f}% | {candidate.spread:.1f}% "
            f"({candidate.passes}) | {links} |"
        )
    stem = published.stem
    markdown = [
        "# Portfolio Basket Analysis",
        "",
        f"- Generated on: {created.astimezone(IST):%Y-%m-%d %H:%M:%S} IST",
        f"- Index: {index}",
        f"- Top N Stocks Considered: {published.n}",
        f"- Selected K Stocks: {published.k}",
        "",
        "## Selected Stocks and Weights",
        "",
        "| Stock | Weight | Expected gain | Target spread (passes) | Sources |",
        "|-------|--------|---------------|------------------------|---------|",
        *rows,
        "",
        "## Overall Basket Gain",
        "",
        f"Expected {pool[0].horizon_days}-day gain: {expected_gain(pool, weights):.2f}%",
        "",
        "## Analysis Summary",
        "",
        html.escape(reason, quote=False),  # the model's words, drawn from web pages: text, never markup
        "",
        f"Every candidate's forecast, reasoning and sources: [forecasts/{stem}.json](forecasts/{quote(stem)}.json)",
        "",
    ]
    (docs / FOLDER / f"{stem}.md").write_text("\n".join(markdown), encoding="utf-8")
    return published
