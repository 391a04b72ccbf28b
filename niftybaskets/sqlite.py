"""How every SQLite file of the project is opened, migrated and written: the stores under DATA_DIR and
the paper exchange's database alike.

A file is created 0600 in a folder created 0700 (they hold encrypted tokens, account data and
orders); a bad DATA_DIR or a damaged file is a StoreError (a configuration error: exit 2); and
concurrent first runs on a new file are safe. Schema changes are numbered migrations: `PRAGMA
user_version` records how many of a file's have run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from niftybaskets.config import ConfigError

PRIVATE_FILE = 0o600
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


def open_database(path: Path | str, migrations: Sequence[str], newer: str) -> sqlite3.Connection:
    """An autocommit connection to `path` in WAL mode, created private, with the `migrations` not yet
    run on it run; StoreError when it cannot be used, ending with `newer` for a file from a newer version.

    Shared by threads (the login callback stores its token from a server thread while the main thread
    waits); a run waits up to BUSY_TIMEOUT_SECONDS for another's write lock."""
    db = _connect(path)
    try:
        _migrate(db, path, migrations, newer)
    except StoreError:
        db.close()
        raise
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """The block's statements as one write transaction: all of them kept, or none when it raises.

    IMMEDIATE takes the write lock at the start, where SQLite waits out the busy timeout for it; a
    transaction that read first could only be refused ("database is locked") when it comes to write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite rolls some failures back by itself
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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


def _database_error(path: Path | str, error: sqlite3.Error) -> StoreError:
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


def _connect(path: Path | str) -> sqlite3.Connection:
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
        raise _database_error(path, error) from None
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


def _migrate(db: sqlite3.Connection, path: Path | str, migrations: Sequence[str], newer: str) -> None:
    """Run the migrations not yet run, all in one write transaction.

    The version is read again once the write lock is held, so two first runs at once never both
    create the tables."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < len(migrations):
            with transaction(db):
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version < len(migrations):
                    for migration in migrations[version:]:
                        for statement in _statements(migration):
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {len(migrations)}")
    except sqlite3.Error as error:
        raise _database_error(path, error) from None
    if version > len(migrations):
        raise StoreError(f"{path} holds schema version {version}, this program knows {len(migrations)}: {newer}")


class SQLiteFile:
    """One of the project's SQLite files, brought up to date (its class's MIGRATIONS) when opened."""

    MIGRATIONS: Sequence[str] = ()
    # What a file from a newer version of the code is told (the store's files; the paper exchange's own).
    NEWER = "it was written by a newer niftybaskets; update the code or use another DATA_DIR"

    def __init__(self, path: Path | str) -> None:
        """Open (or create) the file; StoreError when DATA_DIR or the file cannot be used."""
        self.path = path
        self.db = open_database(path, self.MIGRATIONS, self.NEWER)

    def close(self) -> None:
        self.db.close()
