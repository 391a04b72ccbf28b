"""Kite Connect's JSON shapes, built from the paper exchange's rows (pure functions).

Field names and types follow Zerodha's published mock responses; fields the paper exchange has no
use for (collateral, MTF, market depth) are present with zero values, as Kite sends them.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from niftybaskets.kite.wire import EXCHANGE, FINAL_STATUSES, PRODUCT, OrderType, Status
from niftybaskets.market import IST


@dataclass
class DayTotals:
    """One symbol's trades in one session, split by where sold shares came from."""

    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0
    sold_settled: int = 0
    sold_t1: int = 0
    settled_sale_value: float = 0.0
    t1_sale_value: float = 0.0

    @property
    def sold_from_today(self) -> int:
        return self.sell_quantity - self.sold_settled - self.sold_t1

    @property
    def buy_price(self) -> float:
        return self.buy_value / self.buy_quantity if self.buy_quantity else 0.0

    @property
    def sell_price(self) -> float:
        return self.sell_value / self.sell_quantity if self.sell_quantity else 0.0


def stamp(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


# NSE equities' tick, as Kite's instrument dump lists it.
TICK_SIZE = 0.05
# Kite builds an instrument token as exchange_token * 256 + the segment's number: NSE equities
# are segment 1 (INFY: 1594 * 256 + 1 = 408065), NSE indices segment 9 (NIFTY 50: 256265).
SEGMENTS = {"NSE": 1, "INDICES": 9}
# Exchange tokens below 2**24 keep instrument tokens within 32 bits, as Kite's are.
EXCHANGE_TOKENS = 2**24 - 1
INSTRUMENT_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)


def is_index(symbol: str) -> bool:
    """Index tradingsymbols have spaces ("NIFTY 50"); NSE stock symbols never do."""
    return " " in symbol


def segment(symbol: str) -> str:
    return "INDICES" if is_index(symbol) else "NSE"


def exchange_token(symbol: str) -> int:
    """A number from the exchange and the symbol alone, so it is the same after every restart."""
    return 1 + zlib.crc32(f"NSE:{symbol}".encode()) % EXCHANGE_TOKENS


def instrument_token(symbol: str) -> int:
    return exchange_token(symbol) * 256 + SEGMENTS[segment(symbol)]


def instruments_csv(symbols: Iterable[str]) -> str:
    """Kite's instrument dump for these symbols. Like Kite's, last_price is not live (0.0); the
    company name is not known here, so `name` repeats the symbol."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INSTRUMENT_COLUMNS)
    for symbol in sorted(symbols, key=lambda name: (segment(name), name)):
        index = is_index(symbol)
        writer.writerow(
            (
                instrument_token(symbol),
                exchange_token(symbol),
                symbol,
                symbol,
                0.0,
                "",
                0.0,
                0.0 if index else TICK_SIZE,
                0 if index else 1,
                "EQ",
                segment(symbol),
                EXCHANGE,
            )
        )
    return out.getvalue()


def candle(row: Mapping, with_oi: bool) -> list:
    """One day of /instruments/historical: [timestamp, open, high, low, close, volume(, oi)]."""
    stamp_of_day = f"{row['day']}T00:00:00+0530"
    values = [stamp_of_day, row["open"], row["high"], row["low"], row["close"], row["volume"]]
    return [*values, 0] if with_oi else values


def money(value: float) -> float:
    return round(value, 2)


def profile(account: Mapping) -> dict:
    names = account["user_name"].split()
    return {
        "user_id": account["user_id"],
        "user_type": "individual",
        "email": account["email"],
        "user_name": account["user_name"],
        "user_shortname": names[0] if names else "",
        "broker": "ZERODHA",
        "exchanges": [EXCHANGE],
        "products": [PRODUCT],
        "order_types": [OrderType.MARKET, OrderType.LIMIT],
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }


def equity_margins(opening: float, net: float, holding_sales: float, blocked: float) -> dict:
    """net = cash - debits; debits already count today's usable sale money; delivery is the rest of it."""
    return {
        "enabled": True,
        "net": money(net),
        "available": {
            "adhoc_margin": 0,
            "cash": money(opening),
            "opening_balance": money(opening),
            "live_balance": money(net),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": money(opening - net),
            "exposure": 0,
            "m2m_realised": 0,
            "m2m_unrealised": 0,
            "option_premium": 0,
            "payout": 0,
            "span": 0,
            "holding_sales": money(holding_sales),
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": money(blocked),
        },
    }


def disabled_segment(equity: dict) -> dict:
    return {
        "enabled": False,
        "net": 0,
        "available": dict.fromkeys(equity["available"], 0),
        "utilised": dict.fromkeys(equity["utilised"], 0),
    }


def holding(row: Mapping, price: Mapping, today: DayTotals, business_date: str) -> dict:
    owned = row["quantity"] + row["t1_quantity"]
    change = price["last_price"] - price["close_price"]
    return {
        "tradingsymbol": row["symbol"],
        "exchange": EXCHANGE,
        "instrument_token": instrument_token(row["symbol"]),
        "isin": "",
        "product": PRODUCT,
        "price": 0,
        "quantity": row["quantity"],
        "used_quantity": today.sold_settled + today.sold_t1,
        "t1_quantity": row["t1_quantity"],
        "realised_quantity": row["quantity"],
        "authorised_quantity": row["authorised_quantity"],
        "authorised_date": f"{business_date} 00:00:00",
        "authorisation": {},
        "opening_quantity": row["quantity"],
        "short_quantity": 0,
        "collateral_quantity": 0,
        "collateral_type": "",
        "discrepancy": False,
        "average_price": round(row["average_price"], 4),
        "last_price": price["last_price"],
        "close_price": price["close_price"],
        "pnl": money((price["last_price"] - row["average_price"]) * owned),
        "day_change": round(change, 4),
        "day_change_percentage": round(100 * change / price["close_price"], 4),
        "mtf": {"quantity": 0, "used_quantity": 0, "average_price": 0, "value": 0, "initial_margin": 0},
    }


def position(symbol: str, today: DayTotals, price: Mapping) -> dict:
    """A CNC position: today's buys as a positive quantity, today's sales of holdings as negative."""
    quantity = today.buy_quantity - today.sell_quantity
    value = today.sell_value - today.buy_value
    pnl = money(value + quantity * price["last_price"])
    average = today.buy_price if quantity > 0 else today.sell_price if quantity < 0 else 0.0
    return {
        "tradingsymbol": symbol,
        "exchange": EXCHANGE,
        "instrument_token": instrument_token(symbol),
        "product": PRODUCT,
        "quantity": quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": round(average, 4),
        "close_price": price["close_price"],
        "last_price": price["last_price"],
        "value": money(value),
        "pnl": pnl,
        "m2m": pnl,
        "unrealised": pnl,
        "realised": 0,
        "buy_quantity": today.buy_quantity,
        "buy_price": round(today.buy_price, 4),
        "buy_value": money(today.buy_value),
        "buy_m2m": money(today.buy_value),
        "sell_quantity": today.sell_quantity,
        "sell_price": round(today.sell_price, 4),
        "sell_value": money(today.sell_value),
        "sell_m2m": money(today.sell_value),
        "day_buy_quantity": today.buy_quantity,
        "day_buy_price": round(today.buy_price, 4),
        "day_buy_value": money(today.buy_value),
        "day_sell_quantity": today.sell_quantity,
        "day_sell_price": round(today.sell_price, 4),
        "day_sell_value": money(today.sell_value),
    }


def quote(symbol: str, price: Mapping, circuit: tuple[float, float], mode: str, now: str) -> dict:
    """One instrument's entry in a /quote/ltp, /quote/ohlc or /quote answer."""
    last, close = price["last_price"], price["close_price"]
    token = instrument_token(symbol)
    if mode == "ltp":
        return {"instrument_token": token, "last_price": last}
    ohlc = {"open": close, "high": max(last, close), "low": min(last, close), "close": close}
    if mode == "ohlc":
        return {"instrument_token": token, "last_price": last, "ohlc": ohlc}
    return {
        "instrument_token": token,
        "timestamp": now,
        "last_trade_time": now,
        "last_price": last,
        "last_quantity": 0,
        "buy_quantity": 0,
        "sell_quantity": 0,
        "volume": 0,
        "average_price": last,
        "oi": 0,
        "oi_day_high": 0,
        "oi_day_low": 0,
        "net_change": round(last - close, 4),
        "lower_circuit_limit": circuit[0],
        "upper_circuit_limit": circuit[1],
        "ohlc": ohlc,
        "depth": {side: [{"price": 0, "quantity": 0, "orders": 0} for _ in range(5)] for side in ("buy", "sell")},
    }


def order(row: Mapping, event: Mapping | None = None) -> dict:
    """An order as the order book shows it now, or as it stood at one of its history events."""
    state = event or {
        "status": row["status"],
        "status_message": row["status_message"],
        "filled_quantity": row["filled_quantity"],
        "average_price": row["average_price"],
        "at": row["updated_at"],
    }
    status = state["status"]
    at_exchange = status != Status.AMO_REQ_RECEIVED
    done = status in FINAL_STATUSES
    return {
        "account_id": row["user_id"],
        "placed_by": row["user_id"],
        "order_id": row["order_id"],
        "exchange_order_id": row["exchange_order_id"] if at_exchange else None,
        "parent_order_id": None,
        "status": status,
        "status_message": state["status_message"],
        "status_message_raw": state["status_message"],
        "order_timestamp": row["placed_at"],
        "exchange_update_timestamp": state["at"] if at_exchange else None,
        "exchange_timestamp": row["placed_at"] if at_exchange else None,
        "variety": row["variety"],
        "modified": False,
        "exchange": EXCHANGE,
        "tradingsymbol": row["symbol"],
        "instrument_token": instrument_token(row["symbol"]),
        "order_type": row["order_type"],
        "transaction_type": row["transaction_type"],
        "validity": row["validity"],
        "validity_ttl": 0,
        "product": row["product"],
        "quantity": row["quantity"],
        "disclosed_quantity": 0,
        "price": row["price"],
        "trigger_price": 0,
        "average_price": round(state["average_price"], 4),
        "filled_quantity": state["filled_quantity"],
        "pending_quantity": 0 if done else row["quantity"] - state["filled_quantity"],
        "cancelled_quantity": row["cancelled_quantity"] if status == Status.CANCELLED else 0,
        "market_protection": row["market_protection"],
        "meta": {},
        "tag": row["tag"],
        "tags": [row["tag"]] if row["tag"] else [],
        "guid": row["order_id"],
    }


def trade(row: Mapping) -> dict:
    return {
        "trade_id": row["trade_id"],
        "order_id": row["order_id"],
        "exchange": EXCHANGE,
        "tradingsymbol": row["symbol"],
        "instrument_token": instrument_token(row["symbol"]),
        "product": PRODUCT,
        "average_price": row["price"],
        "quantity": row["quantity"],
        "exchange_order_id": f"1{row['order_id']}",
        "transaction_type": row["transaction_type"],
        "fill_timestamp": row["at"],
        "order_timestamp": row["at"][11:],
        "exchange_timestamp": row["at"],
    }
