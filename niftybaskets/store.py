"""The project's SQLite store (DATA_DIR/niftybaskets.sqlite): the one place for its SQL.

Schema changes are numbered migrations; `PRAGMA user_version` records how many have run.
`open_database` and `migrate` are how every SQLite file of the project is opened (the paper
exchange's too): created 0600 in a folder created 0700, a bad DATA_DIR or a damaged file a
StoreError (a configuration error: exit 2), and concurrent first runs safe.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from niftybaskets.config import ConfigError

PRIVATE_FILE = 0o600  # the files hold encrypted tokens, account data and orders
PRIVATE_FOLDER = 0o700
BUSY_TIMEOUT_SECONDS = 30.0  # how long to wait for another run holding the file's write lock
DAMAGED = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}


class StoreError(ConfigError):
    """A SQLite file or folder under DATA_DIR cannot be used; the message says what to do."""


def make_private_folder(folder: Path) -> None:
    """Create `folder` (0700 when it is new); StoreError saying how to fix DATA_DIR when that fails."""
    try:
        folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    except OSError as error:
        why = error.strerror or str(error)
        if isinstance(error, (FileExistsError, NotADirectoryError)):
            why = "a file is in the way of that folder"
        raise StoreError(
            f"cannot create the folder {folder} ({why}): set DATA_DIR (in the environment or .env) to a folder "
            "this user can write to"
        ) from None


def _make_private_file(path: Path) -> None:
    """Create the file 0600 before SQLite does (SQLite's -wal and -shm files take its mode), and take
    group and other access away from an existing one."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError as error:
        raise StoreError(
            f"cannot open {path} for writing ({error.strerror or error}): set DATA_DIR (in the environment "
            "or .env) to a folder this user can write to"
        ) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise StoreError(f"{path} is not a file: set DATA_DIR (in the environment or .env) to a folder of files")
        if mode & 0o077:
            with contextlib.suppress(OSError):  # not this user's file: SQLite still opens it
                os.fchmod(descriptor, mode & PRIVATE_FILE)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        try:
            mode = companion.lstat().st_mode
            if stat.S_ISREG(mode) and mode & 0o077:
                companion.chmod(mode & PRIVATE_FILE)
        except OSError:
            pass  # absent, or not this user's


def database_error(path: Path | str, error: sqlite3.Error) -> StoreError:
    """The StoreError for an SQLite error met while opening `path`: damaged, or unusable."""
    if getattr(error, "sqlite_errorname", "") in DAMAGED:
        return StoreError(
            f"{path} is damaged or is not a niftybaskets database ({error}): move it aside "
            f"(e.g. mv '{path}' '{path}.damaged') and run again. A new, empty one is made; nothing else is lost "
            "(if it held your Kite login, log in again)"
        )
    return StoreError(
        f"cannot use {path} ({error}): check that DATA_DIR is a folder this user can write to, on a local disk, "
        "and that no other program holds the file"
    )


def _patiently(db: sqlite3.Connection, sql: str) -> None:
    """Run `sql`, waiting while another connection holds the lock it needs: SQLite answers "database is
    locked" at once, without its busy timeout, when two first runs switch a new file to WAL together."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            db.execute(sql).fetchall()
            return
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def open_database(path: Path | str) -> sqlite3.Connection:
    """An autocommit connection to `path` in WAL mode, created private; StoreError when it cannot be used.

    Shared by threads (the login callback stores its token from a server thread while the main thread
    waits); a run waits up to BUSY_TIMEOUT_SECONDS for another's write lock."""
    if str(path) != ":memory:":
        make_private_folder(Path(path).parent)
        _make_private_file(Path(path))
    db = None
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS)
        db.row_factory = sqlite3.Row
        _patiently(db, "PRAGMA journal_mode=WAL")
        _patiently(db, "SELECT count(*) FROM sqlite_master")  # reads the schema: a damaged one shows here
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        raise database_error(path, error) from None
    return db


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one by one (executescript would commit between them)."""
    statements, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n\t;"):
        statements.append(pending.strip())
    return statements


def migrate(db: sqlite3.Connection, path: Path | str, migrations: Sequence[str], newer: str) -> None:
    """Run the migrations not yet run (`PRAGMA user_version` counts them) in one write transaction.

    The version is read again once the write lock is held, so two first runs at once never both
    create the tables; `newer` ends the message for a file from a newer version."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == len(migrations):
            return
        if version < len(migrations):
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version < len(migrations):
                    for migration in migrations[version:]:
                        for statement in _statements(migration):
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {len(migrations)}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
    except sqlite3.Error as error:
        raise database_error(path, error) from None
    if version > len(migrations):
        raise StoreError(f"{path} holds schema version {version}, this program knows {len(migrations)}: {newer}")


MIGRATIONS = [
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
    # Which app (API key, and the Kite or paper exchange it is for) a token was issued for, as a SHA-256
    # digest: a token only works there, so a KITE_API_KEY typo must not pass for an expired login.
    # '' = stored before this was recorded.
    """
    ALTER TABLE kite_tokens ADD COLUMN api_key_digest TEXT NOT NULL DEFAULT '';
    """,
]


@dataclass(frozen=True)
class StoredToken:
    user_id: str
    user_name: str
    encrypted_token: str
    issued_at: str  # ISO 8601, with its offset
    api_key_digest: str = ""  # sessions.api_key_digest of the key and API root it was issued for; "" unknown


class Store:
    def __init__(self, path: Path | str) -> None:
        """Open (or create) the store; StoreError when DATA_DIR or the file cannot be used."""
        self.path = path
        self.db = open_database(path)
        try:
            migrate(
                self.db,
                path,
                MIGRATIONS,
                "it was written by a newer niftybaskets; update the code or use another DATA_DIR",
            )
        except StoreError:
            self.db.close()
            raise

    def damage(self) -> str:
        """What SQLite's quick check finds wrong with the file ("" when nothing)."""
        found = [row[0] for row in self.db.execute("PRAGMA quick_check").fetchall()]
        return "" if found == ["ok"] else "; ".join(found[:3])

    def close(self) -> None:
        self.db.close()

    # -- Kite access tokens ---------------------------------------------------------------------

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

    # -- the rebalancer's audit trail -----------------------------------------------------------

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

    def run_orders(self, run_id: str) -> list[dict]:
        rows = self.db.execute("SELECT * FROM rebalance_orders WHERE run_id = ? ORDER BY tag", (run_id,)).fetchall()
        return [dict(row) for row in rows]

    # -- research ---------------------------------------------------------------------------------

    def save_constituents(self, index_name: str, rows: list[dict], fetched_at: str, drop_others: bool) -> None:
        """Store an index's stocks; with `drop_others`, forget stocks that left the index."""
        with self.db:
            self.db.execute("BEGIN")
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

    # -- price history (the scored ledger) ----------------------------------------------------------

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
        with self.db:
            self.db.execute("BEGIN")
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
        with self.db:
            self.db.execute("BEGIN")
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
