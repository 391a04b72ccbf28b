"""Publishing a basket on the Pages site: docs/baskets/{stem}.json and .md, and its forecasts file."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from niftybaskets.market import IST
from niftybaskets.research.portfolio import Candidate

STEM = re.compile(r"^(?P<index>.+)__(?P<when>[A-Z][a-z]{2}_\d{2}_\d{4}_\d{2}_\d{2})__N(?P<n>\d+)_K(?P<k>\d+)$")
STEM_TIME = "%b_%d_%Y_%H_%M"


@dataclass(frozen=True)
class Published:
    index: str
    created: datetime  # IST
    n: int
    k: int
    stem: str

    @property
    def page(self) -> str:
        """The page's path from docs/, without `.md` so GitHub Pages serves the rendered page."""
        return f"baskets/{quote(self.stem)}"


def stem_of(index: str, created: datetime, n: int, k: int) -> str:
    return f"{index}__{created.astimezone(IST):{STEM_TIME}}__N{n}_K{k}"


def parse_stem(stem: str) -> Published | None:
    match = STEM.match(stem)
    if match is None:
        return None
    created = datetime.strptime(match["when"], STEM_TIME).replace(tzinfo=IST)
    return Published(match["index"], created, int(match["n"]), int(match["k"]), stem)


def rounded(weights: dict[str, float], places: int = 6) -> dict[str, float]:
    """Weights to `places` decimals that still add up to 1: the largest takes the rounding."""
    result = {symbol: round(weight, places) for symbol, weight in weights.items()}
    largest = max(result, key=lambda symbol: (result[symbol], symbol))
    result[largest] = round(1 - sum(w for s, w in result.items() if s != largest), places)
    return result


def domain(url: str) -> str:
    return urlsplit(url).netloc or url


def write_basket(
    docs: Path,
    index: str,
    created: datetime,
    pool: list[Candidate],
    weights: dict[str, float],
    reason: str,
) -> Published:
    """Write the basket (JSON the rebalancer reads, Markdown people read) and its forecasts file."""
    n, k = len(pool), len(weights)
    stem = stem_of(index, created, n, k)
    folder = docs / "baskets"
    if (folder / f"{stem}.json").exists():
        raise FileExistsError(f"{folder / stem}.json is published already; a published basket is never replaced")
    (folder / "forecasts").mkdir(parents=True, exist_ok=True)
    weights = rounded(weights)
    by_symbol = {c.symbol: c for c in pool}
    chosen = sorted(weights, key=lambda symbol: (-weights[symbol], symbol))
    expected = sum(weights[s] * by_symbol[s].gain for s in chosen)
    horizon = pool[0].horizon_days
    basket = {
        "creation_date": created.astimezone(UTC).isoformat(),
        "index": index,
        "horizon_days": horizon,
        "stocks_ticker_candidates": [c.symbol for c in pool],
        "stocks": [{"stock_ticker": s, "weight": weights[s], "sources": by_symbol[s].sources} for s in chosen],
        "reason_summary": reason,
        "expected_gain_percent": round(expected, 4),
        "forecasts": f"forecasts/{stem}.json",
    }
    (folder / f"{stem}.json").write_text(json.dumps(basket, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    forecasts = [
        {
            "stock_ticker": c.symbol,
            "industry": c.industry,
            "last_price": c.last_price,
            "expected_gain_percent": round(c.gain, 4),
            "passes": c.passes,
            "target_prices": c.targets,
            "target_spread_percent": round(c.spread, 3),
            "horizon_days": c.horizon_days,
            "reasoning": c.reasoning,
            "sources": c.sources,
            "chosen": c.symbol in weights,
        }
        for c in pool
    ]
    (folder / "forecasts" / f"{stem}.json").write_text(
        json.dumps({"basket": f"{stem}.json", "forecasts": forecasts}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    rows = []
    for symbol in chosen:
        candidate = by_symbol[symbol]
        links = "<br>".join(f"[{domain(url)}]({url})" for url in candidate.sources) or "-"
        rows.append(
            f"| {symbol} | {weights[symbol]:.2%} | {candidate.gain:+.2f}% | {candidate.spread:.1f}% "
            f"({candidate.passes}) | {links} |"
        )
    markdown = [
        "# Portfolio Basket Analysis",
        "",
        f"- Generated on: {created.astimezone(IST):%Y-%m-%d %H:%M:%S} IST",
        f"- Index: {index}",
        f"- Top N Stocks Considered: {n}",
        f"- Selected K Stocks: {k}",
        "",
        "## Selected Stocks and Weights",
        "",
        "| Stock | Weight | Expected gain | Target spread (passes) | Sources |",
        "|-------|--------|---------------|------------------------|---------|",
        *rows,
        "",
        "## Overall Basket Gain",
        "",
        f"Expected {horizon}-day gain: {expected:.2f}%",
        "",
        "## Analysis Summary",
        "",
        html.escape(reason, quote=False),  # the model's words, drawn from web pages: text, never markup
        "",
        f"Every candidate's forecast, reasoning and sources: [forecasts/{stem}.json](forecasts/{quote(stem)}.json)",
        "",
    ]
    (folder / f"{stem}.md").write_text("\n".join(markdown), encoding="utf-8")
    return Published(index, created.astimezone(IST), n, k, stem)
