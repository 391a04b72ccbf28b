"""SQLite persistence of paper accounts: the only module of the paper exchange that writes SQL.

The paper exchange is the broker's side of the wire, so its database is its own file
(`DATA_DIR/paper/exchange.sqlite` by default), separate from the project's store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

from niftybaskets.sqlite import open_database, transaction

SCHEMA = """
CREATE TABLE accounts (
    user_id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL,
    api_secret TEXT NOT NULL,
    user_name TEXT NOT NULL,
    email TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    opening_balance REAL NOT NULL,
    business_date TEXT NOT NULL
);
CREATE TABLE holdings (
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    symbol TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    t1_quantity INTEGER NOT NULL,
    average_price REAL NOT NULL,
    authorised_quantity INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, symbol)
);
CREATE TABLE prices (
    symbol TEXT PRIMARY KEY,
    last_price REAL NOT NULL,
    close_price REAL NOT NULL,
    lower_circuit REAL,
    upper_circuit REAL
);
CREATE TABLE market (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    price_date TEXT NOT NULL,
    next_number INTEGER NOT NULL
);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    variety TEXT NOT NULL,
    symbol TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    order_type TEXT NOT NULL,
    product TEXT NOT NULL,
    validity TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price REAL NOT NULL,
    market_protection REAL NOT NULL,
    tag TEXT,
    status TEXT NOT NULL,
    status_message TEXT,
    filled_quantity INTEGER NOT NULL DEFAULT 0,
    average_price REAL NOT NULL DEFAULT 0,
    cancelled_quantity INTEGER NOT NULL DEFAULT 0,
    exchange_order_id TEXT,
    placed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    session_date TEXT NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_by_user ON orders(user_id, status);
CREATE TABLE order_events (
    seq INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    status TEXT NOT NULL,
    status_message TEXT,
    filled_quantity INTEGER NOT NULL,
    average_price REAL NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX order_events_by_order ON order_events(order_id);
CREATE TABLE trades (
    trade_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(order_id),
    user_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price REAL NOT NULL,
    from_settled INTEGER NOT NULL DEFAULT 0,
    from_t1 INTEGER NOT NULL DEFAULT 0,
    business_date TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX trades_by_day ON trades(user_id, business_date, symbol);
CREATE TABLE sessions (
    access_token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    public_token TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE request_tokens (
    request_token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    issued_at TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
"""

# Daily candles, kept like prices: a restart keeps them, and the account file's rows for a symbol
# replace that symbol's saved ones.
HISTORY = """
CREATE TABLE history (
    symbol TEXT NOT NULL,
    day TEXT NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume INTEGER NOT NULL,
    PRIMARY KEY (symbol, day)
);
"""

# Version N of a database has run the first N scripts; an older file is brought up to date in place.
MIGRATIONS = (SCHEMA, HISTORY)
NEWER = "it is a newer paper exchange's: move it aside or use another --db file"


class Storage:
    """A SQLite connection shared by the exchange's threads; the exchange serialises access."""

    def __init__(self, path: Path | str) -> None:
        """Open (or create, 0600) the database; StoreError when its folder or the file cannot be used."""
        self.path = path
        self.db = open_database(path, MIGRATIONS, NEWER)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def transaction(self) -> AbstractContextManager[None]:
        return transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def wipe(self) -> None:
        with self.transaction():
            for table in ("trades", "order_events", "orders", "sessions", "request_tokens", "holdings", "accounts"):
                self.db.execute(f"DELETE FROM {table}")

    # -- market -------------------------------------------------------------------------------

    def market_state(self) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM market WHERE id = 1").fetchone()

    def init_market(self, price_date: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO market (id, price_date, next_number) VALUES (1, ?, 1)", (price_date,))

    def set_price_date(self, price_date: str) -> None:
        self.db.execute("UPDATE market SET price_date = ? WHERE id = 1", (price_date,))

    def next_number(self) -> int:
        number = self.db.execute("SELECT next_number FROM market WHERE id = 1").fetchone()[0]
        self.db.execute("UPDATE market SET next_number = next_number + 1 WHERE id = 1")
        return number

    def price(self, symbol: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM prices WHERE symbol = ?", (symbol,)).fetchone()

    def upsert_price(
        self, symbol: str, last_price: float, close_price: float | None, circuit: tuple[float, float] | None
    ) -> None:
        lower, upper = circuit if circuit else (None, None)
        self.db.execute(
            """INSERT INTO prices (symbol, last_price, close_price, lower_circuit, upper_circuit)
               VALUES (?, ?, COALESCE(?, ?), ?, ?)
               ON CONFLICT(symbol) DO UPDATE SET
                 last_price = excluded.last_price,
                 close_price = COALESCE(?, prices.close_price),
                 lower_circuit = COALESCE(excluded.lower_circuit, prices.lower_circuit),
                 upper_circuit = COALESCE(excluded.upper_circuit, prices.upper_circuit)""",
            (symbol, last_price, close_price, last_price, lower, upper, close_price),
        )

    def close_the_day(self) -> None:
        """Today's last price becomes tomorrow's previous close; fixed circuit bands lapse."""
        self.db.execute("UPDATE prices SET close_price = last_price, lower_circuit = NULL, upper_circuit = NULL")

    def symbols(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT symbol FROM prices ORDER BY symbol")]

    def history_symbols(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT symbol FROM history ORDER BY symbol")]

    def replace_history(self, symbol: str, rows: Iterable[tuple[date, float, float, float, float, int]]) -> None:
        self.db.execute("DELETE FROM history WHERE symbol = ?", (symbol,))
        self.db.executemany(
            "INSERT INTO history (symbol, day, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(symbol, day.isoformat(), *candle) for day, *candle in rows],
        )

    def history(self, symbol: str, first: date, last: date) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM history WHERE symbol = ? AND day BETWEEN ? AND ? ORDER BY day",
            (symbol, first.isoformat(), last.isoformat()),
        ).fetchall()

    # -- accounts -----------------------------------------------------------------------------

    def account(self, user_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM accounts WHERE user_id = ?", (user_id,)).fetchone()

    def account_by_api_key(self, api_key: str, user_id: str | None = None) -> sqlite3.Row | None:
        """The account of that app: the one with `user_id` if given, else the first by user id."""
        return self.db.execute(
            """SELECT * FROM accounts WHERE api_key = ? AND (? IS NULL OR user_id = ?)
               ORDER BY user_id LIMIT 1""",
            (api_key, user_id, user_id),
        ).fetchone()

    def user_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT user_id FROM accounts ORDER BY user_id")]

    def insert_account(self, fields: dict) -> None:
        self.db.execute(
            """INSERT INTO accounts (user_id, api_key, api_secret, user_name, email, redirect_url,
                                     opening_balance, business_date)
               VALUES (:user_id, :api_key, :api_secret, :user_name, :email, :redirect_url,
                       :opening_balance, :business_date)""",
            fields,
        )

    def update_credentials(self, fields: dict) -> None:
        self.db.execute(
            """UPDATE accounts SET api_key = :api_key, api_secret = :api_secret, user_name = :user_name,
                                   email = :email, redirect_url = :redirect_url
               WHERE user_id = :user_id""",
            fields,
        )

    def roll_account(self, user_id: str, opening_balance: float, business_date: str) -> None:
        self.db.execute(
            "UPDATE accounts SET opening_balance = ?, business_date = ? WHERE user_id = ?",
            (opening_balance, business_date, user_id),
        )

    # -- holdings -----------------------------------------------------------------------------

    def holdings(self, user_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM holdings WHERE user_id = ? ORDER BY symbol", (user_id,)).fetchall()

    def holding(self, user_id: str, symbol: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM holdings WHERE user_id = ? AND symbol = ?", (user_id, symbol)).fetchone()

    def put_holding(self, user_id: str, symbol: str, quantity: int, t1_quantity: int, average_price: float) -> None:
        if quantity == 0 and t1_quantity == 0:
            self.db.execute("DELETE FROM holdings WHERE user_id = ? AND symbol = ?", (user_id, symbol))
            return
        self.db.execute(
            """INSERT INTO holdings (user_id, symbol, quantity, t1_quantity, average_price)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(user_id, symbol) DO UPDATE SET quantity = excluded.quantity,
                 t1_quantity = excluded.t1_quantity, average_price = excluded.average_price""",
            (user_id, symbol, quantity, t1_quantity, average_price),
        )

    def clear_authorisations(self, user_id: str) -> None:
        self.db.execute("UPDATE holdings SET authorised_quantity = 0 WHERE user_id = ?", (user_id,))

    def authorise(self, user_id: str, symbol: str, quantity: int) -> None:
        self.db.execute(
            "UPDATE holdings SET authorised_quantity = ? WHERE user_id = ? AND symbol = ?", (quantity, user_id, symbol)
        )

    # -- orders and trades --------------------------------------------------------------------

    def insert_order(self, fields: dict) -> None:
        columns = ", ".join(fields)
        placeholders = ", ".join(f":{name}" for name in fields)
        self.db.execute(f"INSERT INTO orders ({columns}) VALUES ({placeholders})", fields)

    def update_order(self, order_id: str, **fields: object) -> None:
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        self.db.execute(f"UPDATE orders SET {assignments} WHERE order_id = :order_id", {**fields, "order_id": order_id})

    def order(self, user_id: str, order_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM orders WHERE user_id = ? AND order_id = ?", (user_id, order_id)
        ).fetchone()

    def orders(self, user_id: str, session_date: str) -> list[sqlite3.Row]:
        """The day's order book: orders of that session plus those still waiting for a later one."""
        return self.db.execute(
            """SELECT * FROM orders WHERE user_id = ? AND (session_date >= ? OR status IN ('OPEN', 'AMO REQ RECEIVED'))
               ORDER BY placed_at, order_id""",
            (user_id, session_date),
        ).fetchall()

    def orders_with_status(self, user_id: str, statuses: Iterable[str]) -> list[sqlite3.Row]:
        statuses = list(statuses)
        marks = ", ".join("?" for _ in statuses)
        return self.db.execute(
            f"SELECT * FROM orders WHERE user_id = ? AND status IN ({marks}) ORDER BY placed_at, order_id",
            (user_id, *statuses),
        ).fetchall()

    def add_order_event(self, order_id: str, status: str, message: str | None, at: str) -> None:
        """Record the order's state now (its fill so far) under `status` in its history."""
        self.db.execute(
            """INSERT INTO order_events (order_id, status, status_message, filled_quantity, average_price, at)
               SELECT order_id, ?, ?, filled_quantity, average_price, ? FROM orders WHERE order_id = ?""",
            (status, message, at, order_id),
        )

    def order_events(self, order_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM order_events WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall()

    def insert_trade(self, fields: dict) -> None:
        columns = ", ".join(fields)
        placeholders = ", ".join(f":{name}" for name in fields)
        self.db.execute(f"INSERT INTO trades ({columns}) VALUES ({placeholders})", fields)

    def trades(self, user_id: str, business_date: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM trades WHERE user_id = ? AND business_date = ? ORDER BY at, trade_id",
            (user_id, business_date),
        ).fetchall()

    def day_totals(self, user_id: str, business_date: str, symbol: str | None = None) -> list[sqlite3.Row]:
        """Per symbol, the session's bought and sold quantities and values, and where sales came from."""
        return self.db.execute(
            """SELECT symbol,
                      SUM(CASE WHEN transaction_type = 'BUY' THEN quantity ELSE 0 END) AS buy_quantity,
                      SUM(CASE WHEN transaction_type = 'BUY' THEN quantity * price ELSE 0 END) AS buy_value,
                      SUM(CASE WHEN transaction_type = 'SELL' THEN quantity ELSE 0 END) AS sell_quantity,
                      SUM(CASE WHEN transaction_type = 'SELL' THEN quantity * price ELSE 0 END) AS sell_value,
                      SUM(from_settled) AS sold_settled,
                      SUM(from_t1) AS sold_t1,
                      SUM(from_settled * price) AS settled_sale_value,
                      SUM(from_t1 * price) AS t1_sale_value
               FROM trades WHERE user_id = ? AND business_date = ? AND (? IS NULL OR symbol = ?)
               GROUP BY symbol ORDER BY symbol""",
            (user_id, business_date, symbol, symbol),
        ).fetchall()

    def order_trades(self, order_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM trades WHERE order_id = ? ORDER BY trade_id", (order_id,)).fetchall()

    # -- sessions -----------------------------------------------------------------------------

    def insert_request_token(self, token: str, user_id: str, issued_at: str) -> None:
        self.db.execute(
            "INSERT INTO request_tokens (request_token, user_id, issued_at) VALUES (?, ?, ?)",
            (token, user_id, issued_at),
        )

    def request_token(self, token: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM request_tokens WHERE request_token = ?", (token,)).fetchone()

    def use_request_token(self, token: str) -> None:
        self.db.execute("UPDATE request_tokens SET used = 1 WHERE request_token = ?", (token,))

    def insert_session(self, fields: dict) -> None:
        self.db.execute(
            """INSERT INTO sessions (access_token, user_id, public_token, issued_at, expires_at)
               VALUES (:access_token, :user_id, :public_token, :issued_at, :expires_at)""",
            fields,
        )

    def session(self, access_token: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM sessions WHERE access_token = ?", (access_token,)).fetchone()

    def revoke_session(self, access_token: str) -> bool:
        cursor = self.db.execute(
            "UPDATE sessions SET revoked = 1 WHERE access_token = ? AND revoked = 0", (access_token,)
        )
        return cursor.rowcount == 1

    def revoke_sessions(self, user_id: str) -> int:
        return self.db.execute("UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0", (user_id,)).rowcount
