"""Reading a published basket: stock -> weight, in either of the historical shapes.

`{"stocks": [{"stock_ticker", "weight", "sources"}], ...}` (the published files) and
`{"stocks_picked": [...], "weights": {TICKER: weight}}` (the older one). Tickers are normalised
(upper case, no `NSE:`) and must be NSE symbols (`nse_symbol`), duplicates are merged, and weights
summing to 0.99-1.01 rescaled; anything else wrong is a BasketError and nothing is traded.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 1_000_000
SUM_TOLERANCE = 0.01
# An NSE symbol: ASCII letters and digits, and & - _ as NSE writes them (M&M, BAJAJ-AUTO, J&KBANK).
NSE_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9&_-]*")
MAX_SYMBOL_LENGTH = 20
SYMBOL_RULE = f"ASCII letters, digits, & - and _, at most {MAX_SYMBOL_LENGTH} characters, e.g. M&M, BAJAJ-AUTO"
ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class BasketError(ValueError):
    """The basket cannot be traded; the message says why."""


@dataclass(frozen=True)
class Basket:
    path: Path
    weights: dict[str, float]
    warnings: list[str] = field(default_factory=list)


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


def _entries(data: dict, path: Path) -> list[tuple[object, object]]:
    if isinstance(data.get("stocks"), list):
        return [
            (entry.get("stock_ticker"), entry.get("weight")) if isinstance(entry, dict) else (None, None)
            for entry in data["stocks"]
        ]
    if isinstance(data.get("weights"), dict):
        return list(data["weights"].items())
    raise BasketError(f"{path} has no stocks: expected a 'stocks' list or a 'weights' mapping")


def load_basket(path: Path, basket_root: Path | None = None) -> Basket:
    """Read and check a basket file; with `basket_root`, the file must lie inside that folder."""
    if basket_root is not None:
        try:
            path.resolve().relative_to(basket_root.resolve())
        except ValueError:
            raise BasketError(f"{path} is outside {basket_root}; only baskets under it are traded") from None
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
    return Basket(path, weights, warnings)
