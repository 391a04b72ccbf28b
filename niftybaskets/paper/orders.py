"""Order requests as Kite's API validates them, before any account state is read (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from niftybaskets.kite.wire import EXCHANGE, PRODUCT, VALIDITY, OrderType, Side, Variety
from niftybaskets.paper.account_file import Rules
from niftybaskets.paper.errors import input_error

# Sanity bounds, far beyond any real NSE order, so absurd values are refused rather than overflow.
MAX_QUANTITY = 100_000_000
MAX_PRICE = 10_000_000.0
MAX_TAG_LENGTH = 20

# Kite's fields are ASCII: int() and float() would also take other scripts' digits ("٣" is 3),
# underscores ("1_0") and spaced text, which Kite refuses. The patterns are matched with fullmatch.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TAG = re.compile(r"[A-Za-z0-9]+")
SYMBOL = re.compile(r"[A-Za-z0-9&_.-]+")
MAX_SYMBOL_LENGTH = 40


@dataclass(frozen=True)
class OrderRequest:
    variety: Variety
    symbol: str
    transaction_type: Side
    quantity: int
    order_type: OrderType
    price: float
    market_protection: float
    tag: str | None
    validity: str = VALIDITY


def _whole_number(form: Mapping[str, str], name: str) -> int:
    text = str(form.get(name, "")).strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise input_error(f"Invalid `{name}`: a whole number in ASCII digits is needed, got {text!a}.")
    number = int(text)
    if not 0 < number <= MAX_QUANTITY:
        raise input_error(f"Invalid `{name}`: it must be from 1 to {MAX_QUANTITY:,}, got {number}.")
    return number


def _number(form: Mapping[str, str], name: str) -> float | None:
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    if not DECIMAL_NUMBER.fullmatch(text):
        raise input_error(f"Invalid `{name}`: a number in ASCII digits is needed, got {text!a}.")
    number = float(text)
    if not math.isfinite(number) or abs(number) > MAX_PRICE:
        raise input_error(f"Invalid `{name}`: a number up to {MAX_PRICE:,} is needed, got {text!a}.")
    return number


def parse_order(variety: str, form: Mapping[str, str], rules: Rules) -> OrderRequest:
    """Validate an order request's form fields the way Kite's API does, before any state is read."""
    if variety not in tuple(Variety):
        raise input_error(f"Invalid `variety` {variety!r}: the paper exchange takes regular and amo orders.")
    required = ("exchange", "tradingsymbol", "transaction_type", "quantity", "product", "order_type")
    missing = [name for name in required if not str(form.get(name, "")).strip()]
    if missing:
        raise input_error(f"Missing {', '.join(f'`{name}`' for name in missing)}.")
    if form["exchange"] != EXCHANGE:
        raise input_error(f"Invalid `exchange` {form['exchange']!r}: the paper exchange trades NSE equities only.")
    if form["transaction_type"] not in tuple(Side):
        raise input_error(f"Invalid `transaction_type` {form['transaction_type']!r}: use BUY or SELL.")
    if form["product"] != PRODUCT:
        raise input_error(
            f"Invalid `product` {form['product']!r}: the paper exchange takes CNC (delivery) orders only."
        )
    order_type = form["order_type"]
    if order_type not in tuple(OrderType):
        raise input_error(f"Invalid `order_type` {order_type!r}: the paper exchange takes MARKET and LIMIT orders.")
    validity = form.get("validity") or VALIDITY
    if validity != VALIDITY:
        raise input_error(f"Invalid `validity` {validity!r}: the paper exchange takes DAY orders only.")
    quantity = _whole_number(form, "quantity")
    price = _number(form, "price") or 0.0
    if order_type == OrderType.LIMIT:
        if price <= 0:
            raise input_error("Invalid `price`: a LIMIT order needs a price above 0.")
        if abs(price * 100 - round(price * 100)) > 1e-6:
            raise input_error(f"Invalid `price` {price}: prices are in whole paise (two decimals at most).")
    else:
        price = 0.0
    protection = _number(form, "market_protection")
    if protection is not None and protection != 0 and not (protection == -1 or 0 < protection <= 100):
        raise input_error(
            f"Invalid `market_protection` {protection:g}: use -1 (automatic) or a percentage above 0 and up to 100."
        )
    if order_type == OrderType.MARKET and rules.market_protection and not protection:
        raise input_error(
            "Market orders without market protection are not allowed via API. Set market_protection "
            "(-1 for automatic, or a percentage up to 100) or use a LIMIT order."
        )
    symbol = form["tradingsymbol"].strip()
    if len(symbol) > MAX_SYMBOL_LENGTH or not SYMBOL.fullmatch(symbol):
        raise input_error(
            f"Invalid `tradingsymbol` {symbol[:MAX_SYMBOL_LENGTH]!a}: an NSE symbol is ASCII letters, "
            "digits and & - _ ."
        )
    tag = str(form.get("tag", "")).strip() or None
    if tag is not None and (len(tag) > MAX_TAG_LENGTH or not TAG.fullmatch(tag)):
        raise input_error(
            f"Invalid `tag` {tag[:40]!a}: at most {MAX_TAG_LENGTH} ASCII letters and digits (A-Z, a-z, 0-9)."
        )
    return OrderRequest(
        variety=Variety(variety),
        symbol=symbol.upper(),
        transaction_type=Side(form["transaction_type"]),
        quantity=quantity,
        order_type=OrderType(order_type),
        price=price,
        market_protection=protection or 0.0,
        tag=tag,
        validity=validity,
    )
