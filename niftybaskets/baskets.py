"""The published-basket format, in one place: file names, reading, writing and listing.

docs/baskets/{INDEX}__{Mon}_{DD}_{YYYY}_{HH}_{MM}__N{n}_K{k}.json is a basket published at that
minute (IST) with k stocks chosen from n candidates; forecasts/{same name}.json holds every
candidate's forecast, and {same name}.md the page people read (written by niftybaskets.site.baskets).

Two shapes of basket are read: `{"stocks": [{"stock_ticker", "weight", "sources"}], ...}` (the
published files) and `{"stocks_picked": [...], "weights": {TICKER: weight}}` (the predecessor's).
Tickers are normalised (upper case, no `NSE:`) and must be NSE symbols (`nse_symbol`), duplicates
are merged, and weights summing to 0.99-1.01 rescaled with a warning; anything else wrong is a
BasketError and nothing is traded. The horizon is the basket's `horizon_days`; the predecessor's
files only say it in a key name (`expected_gain_1w`, `_1m`).
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from niftybaskets.errors import InputError
from niftybaskets.market import IST

FOLDER = "baskets"
STEM = re.compile(r"^(?P<index>.+)__(?P<when>[A-Z][a-z]{2}_\d{2}_\d{4}_\d{2}_\d{2})__N(?P<n>\d+)_K(?P<k>\d+)$")
STEM_TIME = "%b_%d_%Y_%H_%M"
NAMING = "INDEX__Mon_DD_YYYY_HH_MM__Nn_Kk.json"
MAX_BYTES = 1_000_000
SUM_TOLERANCE = 0.01
# An NSE symbol: ASCII letters and digits, and & - _ as NSE writes them (M&M, BAJAJ-AUTO, J&KBANK).
NSE_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9&_-]*")
MAX_SYMBOL_LENGTH = 20
SYMBOL_RULE = f"ASCII letters, digits, & - and _, at most {MAX_SYMBOL_LENGTH} characters, e.g. M&M, BAJAJ-AUTO"
ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
HORIZON_KEYS = {"expected_gain_1w": 7, "expected_gain_1m": 30}
DEFAULT_HORIZON_DAYS = 7


class BasketError(InputError, ValueError):
    """The basket cannot be traded; the message says why."""


# File names


@dataclass(frozen=True)
class Published:
    """A published basket as its file name tells it."""

    index: str
    created: datetime  # IST, to the minute
    n: int
    k: int
    stem: str

    @property
    def page(self) -> str:
        """The page's path from docs/, without `.md` so GitHub Pages serves the rendered page."""
        return f"{FOLDER}/{quote(self.stem)}"

    def file(self, docs: Path) -> Path:
        return docs / FOLDER / f"{self.stem}.json"


def stem_of(index: str, created: datetime, n: int, k: int) -> str:
    return f"{index}__{created.astimezone(IST):{STEM_TIME}}__N{n}_K{k}"


def parse_stem(stem: str) -> Published | None:
    match = STEM.match(stem)
    if match is None:
        return None
    created = datetime.strptime(match["when"], STEM_TIME).replace(tzinfo=IST)
    return Published(match["index"], created, int(match["n"]), int(match["k"]), stem)


def published(docs: Path, index: str | None = None) -> list[Published]:
    """The baskets in docs/baskets (of `index` only, if given), oldest first."""
    found = (parse_stem(path.stem) for path in (docs / FOLDER).glob("*.json"))
    return sorted(
        (basket for basket in found if basket and (index is None or basket.index == index)),
        key=lambda basket: (basket.created, basket.stem),
    )


def misnamed(docs: Path) -> list[Path]:
    """The JSON files in docs/baskets not named like a basket: never listed, so never traded or scored."""
    return sorted(path for path in (docs / FOLDER).glob("*.json") if parse_stem(path.stem) is None)


# Tickers


def normalise_ticker(ticker: str) -> str:
    """Upper case, without `NSE:`. Only ASCII letters change case: "ırctc".upper() would be "IRCTC"."""
    return ticker.strip().translate(ASCII_UPPER).removeprefix("NSE:").strip()


def shown(value: object, limit: int = 40) -> str:
    """`value` safe to print: escaped (no terminal control bytes, no look-alike letters) and cut short."""
    text = value if isinstance(value, str) else reprlib.repr(value)  # bounded, however deep the value
    cut = f"... ({len(text):,} characters)" if len(text) > limit else ""
    return ascii(text[:limit]) + cut


def nse_symbol(ticker: str) -> str:
    """The NSE symbol `ticker` names (normalised), or BasketError naming it, escaped."""
    symbol = normalise_ticker(ticker)
    if len(symbol) > MAX_SYMBOL_LENGTH or not NSE_SYMBOL.fullmatch(symbol):
        raise BasketError(f"{shown(ticker)} is not an NSE symbol ({SYMBOL_RULE})")
    return symbol


# Reading a basket to trade it


@dataclass(frozen=True)
class Basket:
    path: Path
    weights: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def created(self) -> datetime | None:
        """When it was published, as its file name says (None for a basket named otherwise)."""
        named = parse_stem(self.path.stem)
        return named.created if named else None


def _document(path: Path) -> dict:
    if not path.is_file():
        raise BasketError(f"no basket file at {path}")
    if path.stat().st_size > MAX_BYTES:
        raise BasketError(f"{path} is larger than {MAX_BYTES:,} bytes; that is not a basket")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BasketError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:
        raise BasketError(f"{path} is nested too deeply to be a basket") from None
    if not isinstance(data, dict):
        raise BasketError(f"{path} must hold a JSON object")
    return data


def _entries(data: dict, path: Path) -> list[tuple[object, object]]:
    if isinstance(data.get("stocks"), list):
        return [
            (entry.get("stock_ticker"), entry.get("weight")) if isinstance(entry, dict) else (None, None)
            for entry in data["stocks"]
        ]
    if isinstance(data.get("weights"), dict):
        return list(data["weights"].items())
    raise BasketError(f"{path} has no stocks: expected a 'stocks' list or a 'weights' mapping")


def _weights(data: dict, path: Path) -> tuple[dict[str, float], list[str]]:
    weights: dict[str, float] = {}
    warnings: list[str] = []
    for ticker, weight in _entries(data, path):
        if not isinstance(ticker, str) or not normalise_ticker(ticker):
            raise BasketError(f"{path}: a stock without a ticker ({shown(ticker)})")
        try:
            symbol = nse_symbol(ticker)
        except BasketError as error:
            raise BasketError(f"{path}: {error}") from None
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise BasketError(f"{path}: {symbol} has no valid weight ({shown(weight)})")
        if not 0 <= weight <= 1:
            raise BasketError(f"{path}: {symbol} has weight {weight}; weights lie between 0 and 1")
        if symbol in weights:
            warnings.append(f"{symbol} is listed more than once; its weights are added up")
        weights[symbol] = weights.get(symbol, 0.0) + float(weight)
    if not weights:
        raise BasketError(f"{path} lists no stocks")
    total = sum(weights.values())
    if abs(total - 1) > SUM_TOLERANCE + 1e-12:
        raise BasketError(f"{path}: the weights add up to {total:.4f}, not 1 (more than 1% off)")
    if abs(total - 1) > 1e-9:
        warnings.append(f"the weights add up to {total:.4f}; they are rescaled to 1")
        weights = {symbol: weight / total for symbol, weight in weights.items()}
    if any(weight > 1 for weight in weights.values()):
        raise BasketError(f"{path}: a merged weight is above 1")
    return weights, warnings


def load_basket(path: Path, basket_root: Path | None = None) -> Basket:
    """Read and check a basket file; with `basket_root`, the file must lie inside that folder."""
    if basket_root is not None:
        try:
            path.resolve().relative_to(basket_root.resolve())
        except ValueError:
            raise BasketError(f"{path} is outside {basket_root}; only baskets under it are traded") from None
    weights, warnings = _weights(_document(path), path)
    return Basket(path, weights, warnings)


# Reading a published basket and its forecasts to score them


@dataclass(frozen=True)
class Forecast:
    symbol: str
    last_price: float  # the price the forecast was made against
    predicted_gain: float  # percent
    target: float
    chosen: bool


@dataclass(frozen=True)
class PublishedBasket:
    stem: str
    path: str  # from docs/, e.g. baskets/NAME.json
    index: str
    created: datetime  # IST
    horizon_days: int
    weights: dict[str, float]
    forecasts: list[Forecast]
    forecasts_path: str | None
    problem: str = ""  # what was wrong with its forecasts file, for the page's notes


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _forecast(entry: object) -> Forecast | None:
    """One forecast of a forecasts file; None if it lacks a stock, a positive price or a gain."""
    if not isinstance(entry, dict) or not isinstance(entry.get("stock_ticker"), str):
        return None
    symbol = normalise_ticker(entry["stock_ticker"])
    last_price, gain = _number(entry.get("last_price")), _number(entry.get("expected_gain_percent"))
    if not symbol or last_price is None or last_price <= 0 or gain is None:
        return None
    listed = entry.get("target_prices")
    targets = [t for t in map(_number, listed if isinstance(listed, list) else []) if t is not None and t > 0]
    target = statistics.fmean(targets) if targets else last_price * (1 + gain / 100)
    return Forecast(symbol, last_price, gain, target, entry.get("chosen") is True)


def _forecasts(docs: Path, basket_file: Path, named: object) -> tuple[list[Forecast], str | None, str]:
    """The forecasts of a basket's forecasts file, its path from docs/, and what was wrong with it."""
    if not isinstance(named, str):
        return [], None, ""
    file = (basket_file.parent / named).resolve()
    if not file.is_relative_to(docs.resolve()) or not file.is_file():
        return [], None, f"its forecasts file {named} is missing"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        return [], None, f"its forecasts file {named} is not valid JSON ({error})"
    except RecursionError:
        return [], None, f"its forecasts file {named} is nested too deeply to be read"
    entries = data.get("forecasts") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], None, f"its forecasts file {named} has no forecasts list"
    forecasts = [f for f in map(_forecast, entries) if f]
    problem = (
        f"{len(entries) - len(forecasts)} forecasts in {named} are incomplete" if len(forecasts) < len(entries) else ""
    )
    return forecasts, file.relative_to(docs.resolve()).as_posix(), problem


def read_published(docs: Path, path: Path) -> PublishedBasket:
    """One published basket and its forecasts; BasketError when it cannot be scored."""
    stem = parse_stem(path.stem)
    if stem is None:
        raise BasketError(f"{path.name} is not named {NAMING}")
    data = _document(path)
    weights, _ = _weights(data, path)
    created = stem.created
    if isinstance(data.get("creation_date"), str):
        try:
            exact = datetime.fromisoformat(data["creation_date"])
        except ValueError:
            raise BasketError(f"{path.name}: creation_date {data['creation_date']!r} is not an ISO time") from None
        if exact.tzinfo is not None:  # a time without its zone could be any zone's: the name's time is used
            created = exact.astimezone(IST)
    horizon = data.get("horizon_days")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        horizon = next((days for key, days in HORIZON_KEYS.items() if key in data), DEFAULT_HORIZON_DAYS)
    forecasts, forecasts_path, problem = _forecasts(docs, path, data.get("forecasts"))
    return PublishedBasket(
        stem=stem.stem,
        path=path.relative_to(docs).as_posix(),
        index=data.get("index") if isinstance(data.get("index"), str) else stem.index,
        created=created,
        horizon_days=horizon,
        weights=weights,
        forecasts=forecasts,
        forecasts_path=forecasts_path,
        problem=f"{stem.stem}: {problem}" if problem else "",
    )


def published_baskets(docs: Path, index: str | None = None) -> tuple[list[PublishedBasket], list[str]]:
    """Every published basket read with its forecasts (of `index` only, if given), oldest first, and a
    line for each file that could not be read."""
    problems = [f"{path.name}: {path.name} is not named {NAMING}" for path in misnamed(docs)] if index is None else []
    baskets = []
    for basket in published(docs, index):
        try:
            baskets.append(read_published(docs, basket.file(docs)))
        except (BasketError, ValueError, UnicodeDecodeError) as error:
            problems.append(f"{basket.stem}.json: {error}")
    baskets.sort(key=lambda b: (b.created, b.stem))
    return baskets, sorted(problems)


# Writing a new basket


@dataclass(frozen=True)
class Candidate:
    """A stock considered for a basket, with the forecast its forecasts file publishes."""

    symbol: str
    industry: str
    gain: float  # average expected gain over the recent forecasts (passes), percent
    passes: int
    spread: float  # (highest - lowest target price) / mean target, percent: how much the passes agree
    targets: list[float]
    last_price: float
    horizon_days: int
    reasoning: str  # the latest forecast's
    sources: list[str]


def rounded(weights: dict[str, float], places: int = 6) -> dict[str, float]:
    """Weights to `places` decimals that still add up to 1: the largest takes the rounding."""
    result = {symbol: round(weight, places) for symbol, weight in weights.items()}
    largest = max(result, key=lambda symbol: (result[symbol], symbol))
    result[largest] = round(1 - sum(w for s, w in result.items() if s != largest), places)
    return result


def by_weight(weights: dict[str, float]) -> list[str]:
    """The chosen stocks, heaviest first, as the basket lists them."""
    return sorted(weights, key=lambda symbol: (-weights[symbol], symbol))


def expected_gain(pool: Sequence[Candidate], weights: dict[str, float]) -> float:
    """The basket's expected gain, percent: its stocks' expected gains, weighted."""
    gains = {c.symbol: c.gain for c in pool}
    return sum(weights[symbol] * gains[symbol] for symbol in by_weight(weights))


def write_basket_data(
    docs: Path, index: str, created: datetime, pool: Sequence[Candidate], weights: dict[str, float], reason: str
) -> Published:
    """Write {stem}.json (the basket the rebalancer trades, weights rounded as `rounded` does) and
    forecasts/{stem}.json (every candidate's forecast); a published basket is never replaced."""
    n, k = len(pool), len(weights)
    stem = stem_of(index, created, n, k)
    folder = docs / FOLDER
    if (folder / f"{stem}.json").exists():
        raise FileExistsError(f"{folder / stem}.json is published already; a published basket is never replaced")
    (folder / "forecasts").mkdir(parents=True, exist_ok=True)
    weights = rounded(weights)
    sources = {c.symbol: c.sources for c in pool}
    basket = {
        "creation_date": created.astimezone(UTC).isoformat(),
        "index": index,
        "horizon_days": pool[0].horizon_days,
        "stocks_ticker_candidates": [c.symbol for c in pool],
        "stocks": [{"stock_ticker": s, "weight": weights[s], "sources": sources[s]} for s in by_weight(weights)],
        "reason_summary": reason,
        "expected_gain_percent": round(expected_gain(pool, weights), 4),
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
    return Published(index, created.astimezone(IST), n, k, stem)
