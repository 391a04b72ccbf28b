"""The baskets and forecasts published in docs/baskets, as the ledger scores them.

Both historical basket shapes are read (see rebalance/basket.py). The horizon is the basket's
`horizon_days`; the predecessor's files only say it in a key name (`expected_gain_1w`, `_1m`).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from niftybaskets.market import IST
from niftybaskets.rebalance.basket import BasketError, load_basket, normalise_ticker
from niftybaskets.site.baskets import parse_stem

HORIZON_KEYS = {"expected_gain_1w": 7, "expected_gain_1m": 30}
DEFAULT_HORIZON_DAYS = 7


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


def read_basket(docs: Path, path: Path) -> PublishedBasket:
    """One published basket and its forecasts; BasketError when it cannot be scored."""
    stem = parse_stem(path.stem)
    if stem is None:
        raise BasketError(f"{path.name} is not named INDEX__Mon_DD_YYYY_HH_MM__Nn_Kk.json")
    basket = load_basket(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    created = stem.created  # to the minute, IST
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
        weights=basket.weights,
        forecasts=forecasts,
        forecasts_path=forecasts_path,
        problem=f"{stem.stem}: {problem}" if problem else "",
    )


def published_baskets(docs: Path, index: str | None = None) -> tuple[list[PublishedBasket], list[str]]:
    """Every basket in docs/baskets (of `index` only, if given), oldest first, and a line for each
    file that could not be read."""
    baskets, problems = [], []
    for path in sorted((docs / "baskets").glob("*.json")):
        stem = parse_stem(path.stem)
        if index is not None and (stem is None or stem.index != index):
            continue
        try:
            baskets.append(read_basket(docs, path))
        except (BasketError, ValueError, UnicodeDecodeError) as error:
            problems.append(f"{path.name}: {error}")
    baskets.sort(key=lambda b: (b.created, b.stem))
    return baskets, problems
