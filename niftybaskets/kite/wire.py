"""Kite Connect's wire strings, each named once: kiteconnect's own constants where the SDK defines
them, Kite's documented values otherwise. Members are strings, so they compare, serialise and store
as the strings Kite sends."""

from __future__ import annotations

from enum import StrEnum

from kiteconnect import KiteConnect

EXCHANGE = KiteConnect.EXCHANGE_NSE
PRODUCT = KiteConnect.PRODUCT_CNC  # delivery: the only product the project trades
VALIDITY = KiteConnect.VALIDITY_DAY


class Side(StrEnum):
    BUY = KiteConnect.TRANSACTION_TYPE_BUY
    SELL = KiteConnect.TRANSACTION_TYPE_SELL


class OrderType(StrEnum):
    MARKET = KiteConnect.ORDER_TYPE_MARKET
    LIMIT = KiteConnect.ORDER_TYPE_LIMIT


class Variety(StrEnum):
    REGULAR = KiteConnect.VARIETY_REGULAR
    AMO = KiteConnect.VARIETY_AMO


class Status(StrEnum):
    """An order's status in Kite's order book and order history."""

    PUT_ORDER_REQ_RECEIVED = "PUT ORDER REQ RECEIVED"
    VALIDATION_PENDING = "VALIDATION PENDING"
    OPEN_PENDING = "OPEN PENDING"
    AMO_REQ_RECEIVED = "AMO REQ RECEIVED"
    OPEN = "OPEN"
    COMPLETE = KiteConnect.STATUS_COMPLETE
    REJECTED = KiteConnect.STATUS_REJECTED
    CANCELLED = KiteConnect.STATUS_CANCELLED


# Statuses after which an order changes no more.
FINAL_STATUSES = frozenset({Status.COMPLETE, Status.REJECTED, Status.CANCELLED})
