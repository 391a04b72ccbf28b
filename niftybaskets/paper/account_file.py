"""The paper exchange's account file (YAML): accounts to seed, prices, daily history, rules and faults.

The top-level keys describe the first account and the market; `accounts:` adds more accounts
(family members sharing one exchange). Every rule is on by default, as on Kite.
"""

from __future__ import annotations

import ipaddress
import math
import os
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from niftybaskets.errors import InputError

DEFAULT_REDIRECT_URL = "http://127.0.0.1:8080/callback"
PAPER_SECRET = "paper"  # noqa: S105 - an account's api_secret when its file sets none (never KITE_API_SECRET)


class AccountFileError(InputError, ValueError):
    """The account file cannot be used; the message says what to fix."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Value = TypeVar("Value")
# One trading day: [YYYY-MM-DD, open, high, low, close, volume], the columns of Kite's candles.
# Strict numbers, so that a stray `true` is an error rather than a price of 1.
DailyRow = tuple[date, StrictFloat, StrictFloat, StrictFloat, StrictFloat, StrictInt]


def _check_symbols(mapping: dict[str, Value]) -> dict[str, Value]:
    clean = {}
    for symbol, value in mapping.items():
        name = str(symbol).strip().upper().removeprefix("NSE:")
        if not name:
            raise ValueError("an empty symbol")
        clean[name] = value
    return clean


class Rules(Strict):
    market_hours: bool = True
    market_protection: bool = True
    ip_whitelist: bool = True
    whitelisted_ips: list[str] = ["127.0.0.1", "::1"]
    order_rate_limit: int = Field(10, ge=0, description="order requests per second per account; 0 = off")
    order_rate_limit_per_minute: int = Field(400, ge=0)
    quote_rate_limit: int = Field(1, ge=0)
    historical_rate_limit: int = Field(3, ge=0, description="historical candle requests per second")
    api_rate_limit: int = Field(10, ge=0, description="every other endpoint, per second")
    funds_check: bool = True
    sale_proceeds: Literal["same_day", "block_20_percent"] = "same_day"
    holdings_check: bool = True
    tpin: bool = False
    circuit_limits: bool = True
    default_circuit_percent: float = Field(20.0, gt=0, le=100)
    token_expiry: bool = True
    market_data: bool = True
    historical_data: bool = True
    slippage_percent: float = Field(0.0, ge=0, lt=20)
    fill_polls: int = Field(1, ge=1, le=100, description="polls of the order book over which a MARKET order fills")
    request_token_ttl_seconds: int = Field(300, ge=1)

    @field_validator("whitelisted_ips")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class Fault(Strict):
    endpoint: str = Field(description="METHOD /path, e.g. 'POST /orders/regular'")
    times: int = Field(1, ge=1)
    status: int = Field(503, ge=400, le=599)
    delay: float = Field(0.0, ge=0, le=600, description="seconds to wait before answering")
    when: Literal["before", "after"] = Field(
        "before", description="before: the request is not carried out; after: it is, and the answer is lost"
    )

    @field_validator("endpoint")
    @classmethod
    def _method_and_path(cls, value: str) -> str:
        method, _, path = value.strip().partition(" ")
        if method.upper() not in {"GET", "POST", "PUT", "DELETE"} or not path.strip().startswith("/"):
            raise ValueError("write it as 'METHOD /path', e.g. 'POST /orders/regular'")
        return f"{method.upper()} {path.strip()}"


class AccountSeed(Strict):
    user_id: str = "ZP0001"
    user_name: str = "Paper Trader"
    email: str = "paper@example.com"
    api_key: str = ""
    api_secret: str = ""
    cash: float = Field(1_000_000.0, ge=0)
    holdings: dict[str, int] = {}
    t1_holdings: dict[str, int] = {}
    average_prices: dict[str, float] = {}
    redirect_url: str = DEFAULT_REDIRECT_URL

    _symbols = field_validator("holdings", "t1_holdings", "average_prices")(_check_symbols)

    @field_validator("holdings", "t1_holdings")
    @classmethod
    def _positive_quantities(cls, value: dict[str, int]) -> dict[str, int]:
        for symbol, quantity in value.items():
            if quantity < 0:
                raise ValueError(f"{symbol}: a quantity cannot be negative")
        return value

    @model_validator(mode="after")
    def _default_credentials(self) -> AccountSeed:
        # KITE_API_KEY is no secret (every login link carries it), so a paper account may take it; the
        # secret never comes from the environment: the paper exchange keeps its accounts' secrets in its
        # database, where the real KITE_API_SECRET must never be written.
        self.api_key = self.api_key or os.environ.get("KITE_API_KEY") or "paper"
        self.api_secret = self.api_secret or PAPER_SECRET
        return self


class AccountFile(AccountSeed):
    prices: dict[str, float] = {}
    history: dict[str, list[DailyRow]] = {}
    circuits: dict[str, tuple[float, float]] = {}
    holidays: list[date] = []
    live_prices: bool = False
    rules: Rules = Rules()
    faults: list[Fault] = []
    accounts: list[AccountSeed] = []

    _market_symbols = field_validator("prices", "history", "circuits")(_check_symbols)

    @field_validator("prices")
    @classmethod
    def _positive_prices(cls, value: dict[str, float]) -> dict[str, float]:
        for symbol, price in value.items():
            if not math.isfinite(price) or price <= 0:
                raise ValueError(f"{symbol}: a price must be a positive number")
        return value

    @field_validator("history")
    @classmethod
    def _sound_candles(cls, value: dict[str, list[DailyRow]]) -> dict[str, list[DailyRow]]:
        for symbol, rows in value.items():
            previous = None
            for day, open_, high, low, close, volume in rows:
                where = f"{symbol} {day}"
                if previous is not None and day <= previous:
                    raise ValueError(
                        f"{where} comes after {previous}: list the days in increasing order, each day once"
                    )
                if not all(math.isfinite(price) and price > 0 for price in (open_, high, low, close)):
                    raise ValueError(f"{where}: open, high, low and close must be positive numbers")
                if not low <= min(open_, close) <= max(open_, close) <= high:
                    raise ValueError(
                        f"{where}: low {low} and high {high} must bound open {open_} and close {close}; "
                        "the columns are [date, open, high, low, close, volume]"
                    )
                if volume < 0:
                    raise ValueError(f"{where}: the volume cannot be negative")
                previous = day
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AccountFile:
        seeds = self.all_accounts()
        user_ids = [seed.user_id for seed in seeds]
        repeated = sorted({user_id for user_id in user_ids if user_ids.count(user_id) > 1})
        if repeated:
            raise ValueError(f"each account needs its own user_id; repeated: {', '.join(repeated)}")
        secrets_by_key: dict[str, str] = {}
        for seed in seeds:
            # Accounts may share an app (one api_key, several client ids), and so its secret.
            if secrets_by_key.setdefault(seed.api_key, seed.api_secret) != seed.api_secret:
                raise ValueError(f"accounts sharing an api_key must share its api_secret ({seed.user_id} differs)")
        for seed in seeds:
            unpriced = sorted((set(seed.holdings) | set(seed.t1_holdings)) - set(self.prices))
            if unpriced and not self.live_prices:
                raise ValueError(f"account {seed.user_id} holds {', '.join(unpriced)} but prices: has no price for it")
        for symbol, (lower, upper) in self.circuits.items():
            if not 0 < lower < upper:
                raise ValueError(f"circuits: {symbol} needs [lower, upper] with 0 < lower < upper")
        return self

    def all_accounts(self) -> list[AccountSeed]:
        first = AccountSeed(**{name: getattr(self, name) for name in AccountSeed.model_fields})
        return [first, *self.accounts]


class _Loader(yaml.SafeLoader):
    """YAML's own loader, but an impossible unquoted date (2026-02-30) is reported with its line."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> object:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value} is not a date: {error}", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def parse_account_file(text: str, source: str = "account file") -> AccountFile:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        raise AccountFileError(f"{source} is not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AccountFileError(f"{source} must be a YAML mapping of keys such as cash:, holdings:, prices:")
    try:
        return AccountFile.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'file'}: {issue['msg']}" for issue in error.errors()
        )
        raise AccountFileError(f"{source} has problems: {problems}") from None


def load_account_file(path: Path) -> AccountFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AccountFileError(f"cannot read the account file {path}: {error.strerror}") from None
    return parse_account_file(text, source=str(path))
