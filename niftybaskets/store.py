"""The project's own SQLite file, DATA_DIR/niftybaskets.sqlite, and the stores in it, one class per job:
TokenStore (Kite access tokens), AuditTrail (the rebalancer's runs and orders) and ResearchStore
(index constituents, forecasts, Gemini calls). Each opens the file on a connection of its own, and
each brings the file's schema up to date (niftybaskets.sqlite says how).

The scored ledger's prices are a file of their own (niftybaskets.price_cache).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from niftybaskets.sqlite import SQLiteFile, transaction

MIGRATIONS = (
    """
    CREATE TABLE kite_tokens (
        user_id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        encrypted_token TEXT NOT NULL,
        issued_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE rebalance_runs (
        run_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        basket TEXT NOT NULL,
        mode TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        report TEXT
    );
    CREATE TABLE rebalance_orders (
        tag TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES rebalance_runs(run_id),
        pass_number INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        order_id TEXT,
        status TEXT NOT NULL,
        filled INTEGER NOT NULL,
        average_price REAL NOT NULL,
        message TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE constituents (
        index_name TEXT NOT NULL,
        symbol TEXT NOT NULL,
        company TEXT NOT NULL,
        industry TEXT NOT NULL,
        last_price REAL NOT NULL,
        previous_close REAL,
        day_low REAL,
        day_high REAL,
        year_low REAL,
        year_high REAL,
        volume REAL,
        change_30d REAL,
        change_365d REAL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (index_name, symbol)
    );
    CREATE TABLE forecasts (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        index_name TEXT NOT NULL,
        symbol TEXT NOT NULL,
        created_at TEXT NOT NULL,
        model TEXT NOT NULL,
        horizon_days INTEGER NOT NULL,
        last_price REAL NOT NULL,
        target_price REAL NOT NULL,
        gain_percent REAL NOT NULL,
        model_gain_percent REAL NOT NULL,
        reasoning TEXT NOT NULL,
        sources TEXT NOT NULL
    );
    CREATE INDEX forecasts_by_stock ON forecasts(index_name, symbol, created_at);
    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        prompt_name TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        params TEXT NOT NULL,
        started_at TEXT NOT NULL,
        seconds REAL NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        key_index INTEGER NOT NULL,
        status TEXT NOT NULL,
        response TEXT NOT NULL
    );
    """,
    # Version 4 made the price tables, here and in the price cache; they are the price cache's alone now.
    "",
    # Which app (API key, and the Kite or paper exchange it is for) a token was issued for, as a SHA-256
    # digest: a token only works there, so a KITE_API_KEY typo must not pass for an expired login.
    # '' = stored before this was recorded.
    """
    ALTER TABLE kite_tokens ADD COLUMN api_key_digest TEXT NOT NULL DEFAULT '';
    """,
    # The price tables of a file made by version 4 or 5 (the ledger has read DATA_DIR/prices.sqlite since).
    """
    DROP TABLE IF EXISTS price_rows;
    DROP TABLE IF EXISTS price_coverage;
    DROP TABLE IF EXISTS corporate_actions;
    DROP TABLE IF EXISTS corporate_action_coverage;
    """,
)


class _MainFileStore(SQLiteFile):
    MIGRATIONS = MIGRATIONS


@dataclass(frozen=True)
class StoredToken:
    user_id: str
    user_name: str
    encrypted_token: str
    issued_at: str  # ISO 8601, with its offset
    api_key_digest: str = ""  # sessions.api_key_digest of the key and API root it was issued for; "" unknown


class TokenStore(_MainFileStore):
    """Kite access tokens, encrypted, one per user."""

    def save_token(self, token: StoredToken) -> None:
        self.db.execute(
            """INSERT INTO kite_tokens (user_id, user_name, encrypted_token, issued_at, api_key_digest)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET user_name = excluded.user_name,
                 encrypted_token = excluded.encrypted_token, issued_at = excluded.issued_at,
                 api_key_digest = excluded.api_key_digest""",
            (token.user_id, token.user_name, token.encrypted_token, token.issued_at, token.api_key_digest),
        )

    def tokens(self) -> list[StoredToken]:
        """Every stored token, sorted by user id."""
        rows = self.db.execute("SELECT * FROM kite_tokens ORDER BY user_id").fetchall()
        return [StoredToken(**dict(row)) for row in rows]

    def delete_token(self, user_id: str) -> None:
        self.db.execute("DELETE FROM kite_tokens WHERE user_id = ?", (user_id,))


class AuditTrail(_MainFileStore):
    """The rebalancer's runs and every order it placed, written as it goes."""

    def start_run(self, run_id: str, user_id: str, basket: str, mode: str, started_at: str) -> None:
        self.db.execute(
            "INSERT INTO rebalance_runs (run_id, user_id, basket, mode, started_at) VALUES (?, ?, ?, ?, ?)",
            (run_id, user_id, basket, mode, started_at),
        )

    def record_order(self, run_id: str, fields: dict) -> None:
        """Insert or update one order, keyed by its tag (written before it is sent, and after)."""
        self.db.execute(
            """INSERT INTO rebalance_orders (tag, run_id, pass_number, symbol, side, quantity, order_id, status,
                                             filled, average_price, message, updated_at)
               VALUES (:tag, :run_id, :pass_number, :symbol, :side, :quantity, :order_id, :status,
                       :filled, :average_price, :message, :updated_at)
               ON CONFLICT(tag) DO UPDATE SET order_id = excluded.order_id, status = excluded.status,
                 filled = excluded.filled, average_price = excluded.average_price,
                 message = excluded.message, updated_at = excluded.updated_at""",
            {**fields, "run_id": run_id},
        )

    def finish_run(self, run_id: str, finished_at: str, report: str) -> None:
        self.db.execute(
            "UPDATE rebalance_runs SET finished_at = ?, report = ? WHERE run_id = ?", (finished_at, report, run_id)
        )

    def traded_to(self, user_id: str, basket_name: str) -> bool:
        """Whether a run that sends orders (live or paper) finished trading `user_id`'s account to the
        basket file named `basket_name` without failing."""
        rows = self.db.execute(
            "SELECT basket, report FROM rebalance_runs WHERE user_id = ? AND mode != 'dry-run' AND report IS NOT NULL",
            (user_id,),
        ).fetchall()
        for row in rows:
            if Path(row["basket"]).name != basket_name:
                continue
            try:
                if json.loads(row["report"]).get("failed") is False:
                    return True
            except (ValueError, AttributeError):  # a report of an older version, or damaged
                continue
        return False

    def run_orders(self, run_id: str) -> list[dict]:
        rows = self.db.execute("SELECT * FROM rebalance_orders WHERE run_id = ? ORDER BY tag", (run_id,)).fetchall()
        return [dict(row) for row in rows]


class ResearchStore(_MainFileStore):
    """The research's index constituents, forecasts and Gemini calls."""

    def save_constituents(self, index_name: str, rows: list[dict], fetched_at: str, drop_others: bool) -> None:
        """Store an index's stocks; with `drop_others`, forget stocks that left the index."""
        with transaction(self.db):
            if drop_others:
                self.db.execute("DELETE FROM constituents WHERE index_name = ?", (index_name,))
            for row in rows:
                self.db.execute(
                    """INSERT OR REPLACE INTO constituents (index_name, symbol, company, industry, last_price,
                         previous_close, day_low, day_high, year_low, year_high, volume, change_30d, change_365d,
                         fetched_at)
                       VALUES (:index_name, :symbol, :company, :industry, :last_price, :previous_close, :day_low,
                         :day_high, :year_low, :year_high, :volume, :change_30d, :change_365d, :fetched_at)""",
                    {**row, "index_name": index_name, "fetched_at": fetched_at},
                )

    def constituents(self, index_name: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT * FROM constituents WHERE index_name = ? ORDER BY symbol", (index_name,)
        ).fetchall()
        return [dict(row) for row in rows]

    def save_forecast(self, fields: dict) -> None:
        self.db.execute(
            """INSERT INTO forecasts (run_id, index_name, symbol, created_at, model, horizon_days, last_price,
                 target_price, gain_percent, model_gain_percent, reasoning, sources)
               VALUES (:run_id, :index_name, :symbol, :created_at, :model, :horizon_days, :last_price,
                 :target_price, :gain_percent, :model_gain_percent, :reasoning, :sources)""",
            fields,
        )

    def forecasts(
        self,
        index_name: str,
        since: str,
        symbol: str | None = None,
        horizon_days: int | None = None,
        model: str | None = None,
    ) -> list[dict]:
        """Forecasts made at or after `since` (ISO time), newest first; optionally one stock's, for one
        horizon, by one model."""
        rows = self.db.execute(
            """SELECT * FROM forecasts WHERE index_name = ? AND created_at >= ? AND (? IS NULL OR symbol = ?)
                 AND (? IS NULL OR horizon_days = ?) AND (? IS NULL OR model = ?)
               ORDER BY created_at DESC, id DESC""",
            (index_name, since, symbol, symbol, horizon_days, horizon_days, model, model),
        ).fetchall()
        return [dict(row) for row in rows]

    def record_llm_call(self, fields: dict) -> None:
        self.db.execute(
            """INSERT INTO llm_calls (run_id, prompt_name, prompt_hash, model, params, started_at, seconds,
                 input_tokens, output_tokens, key_index, status, response)
               VALUES (:run_id, :prompt_name, :prompt_hash, :model, :params, :started_at, :seconds,
                 :input_tokens, :output_tokens, :key_index, :status, :response)""",
            fields,
        )
