"""The scored ledger's price cache, DATA_DIR/prices.sqlite: daily prices by source, and NSE's corporate
actions, each with the days they are known for. A file of its own, holding nothing else, because it
travels between workflow runs as an artifact.
"""

from __future__ import annotations

from niftybaskets.sqlite import SQLiteFile, transaction

# Up to version 5 this file had the schema of niftybaskets.sqlite, its price tables from version 4; version 6
# drops the rest. The migrations that made only those other tables are empty here, so a new file never has them.
MIGRATIONS = (
    "",
    "",
    "",
    """
    CREATE TABLE price_rows (
        source TEXT NOT NULL,
        symbol TEXT NOT NULL,
        day TEXT NOT NULL,
        open REAL,
        close REAL,
        previous_close REAL,
        PRIMARY KEY (source, symbol, day)
    );
    CREATE TABLE price_coverage (
        source TEXT NOT NULL,
        symbol TEXT NOT NULL,
        first_day TEXT NOT NULL,
        last_day TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (source, symbol)
    );
    CREATE TABLE corporate_actions (
        symbol TEXT NOT NULL,
        ex_date TEXT NOT NULL,
        subject TEXT NOT NULL,
        PRIMARY KEY (symbol, ex_date, subject)
    );
    CREATE TABLE corporate_action_coverage (
        symbol TEXT PRIMARY KEY,
        last_day TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    );
    """,
    "",
    """
    DROP TABLE IF EXISTS kite_tokens;
    DROP TABLE IF EXISTS rebalance_orders;
    DROP TABLE IF EXISTS rebalance_runs;
    DROP TABLE IF EXISTS constituents;
    DROP TABLE IF EXISTS forecasts;
    DROP TABLE IF EXISTS llm_calls;
    """,
)


class PriceCache(SQLiteFile):
    """DATA_DIR/prices.sqlite: daily prices by source and symbol, what each source covered, corporate actions."""

    MIGRATIONS = MIGRATIONS

    def damage(self) -> str:
        """What SQLite's quick check finds wrong with the file ("" when nothing)."""
        found = [row[0] for row in self.db.execute("PRAGMA quick_check").fetchall()]
        return "" if found == ["ok"] else "; ".join(found[:3])

    def price_coverage(self, source: str, symbol: str) -> tuple[str, str] | None:
        """The days (first, last, ISO dates) whose prices from `source` are stored, gaps included."""
        row = self.db.execute(
            "SELECT first_day, last_day FROM price_coverage WHERE source = ? AND symbol = ?", (source, symbol)
        ).fetchone()
        return (row["first_day"], row["last_day"]) if row else None

    def save_prices(
        self,
        source: str,
        symbol: str,
        rows: list[dict],
        coverage: tuple[str, str] | None,
        fetched_at: str,
        replace: bool = False,
    ) -> None:
        """Store rows {day, open, close, previous_close}; with `coverage` (first, last day), that range
        becomes the days known (a day without a row there had no trading). With `replace`, the
        symbol's earlier rows from `source` are dropped first."""
        with transaction(self.db):
            if replace:
                self.db.execute("DELETE FROM price_rows WHERE source = ? AND symbol = ?", (source, symbol))
            for row in rows:
                self.db.execute(
                    """INSERT OR REPLACE INTO price_rows (source, symbol, day, open, close, previous_close)
                       VALUES (:source, :symbol, :day, :open, :close, :previous_close)""",
                    {"previous_close": None, **row, "source": source, "symbol": symbol},
                )
            if coverage is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO price_coverage VALUES (?, ?, ?, ?, ?)",
                    (source, symbol, *coverage, fetched_at),
                )

    def prices(self, source: str, symbol: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT day, open, close, previous_close FROM price_rows WHERE source = ? AND symbol = ? ORDER BY day",
            (source, symbol),
        ).fetchall()
        return [dict(row) for row in rows]

    def corporate_action_coverage(self, symbol: str) -> str | None:
        row = self.db.execute("SELECT last_day FROM corporate_action_coverage WHERE symbol = ?", (symbol,)).fetchone()
        return row["last_day"] if row else None

    def save_corporate_actions(self, symbol: str, actions: list[dict], last_day: str, fetched_at: str) -> None:
        """Store NSE's corporate actions {ex_date, subject} of `symbol`, known as of `last_day`."""
        with transaction(self.db):
            for action in actions:
                self.db.execute(
                    "INSERT OR IGNORE INTO corporate_actions VALUES (?, ?, ?)",
                    (symbol, action["ex_date"], action["subject"]),
                )
            self.db.execute(
                "INSERT OR REPLACE INTO corporate_action_coverage VALUES (?, ?, ?)", (symbol, last_day, fetched_at)
            )

    def corporate_actions(self, symbol: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT ex_date, subject FROM corporate_actions WHERE symbol = ? ORDER BY ex_date, subject", (symbol,)
        ).fetchall()
        return [dict(row) for row in rows]
