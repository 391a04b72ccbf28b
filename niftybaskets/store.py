"""The project's SQLite store (DATA_DIR/niftybaskets.sqlite): the one place for its SQL.

Schema changes are numbered migrations; `PRAGMA user_version` records how many have run.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS = [
    """
    CREATE TABLE kite_tokens (
        user_id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        encrypted_token TEXT NOT NULL,
        issued_at TEXT NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class StoredToken:
    user_id: str
    user_name: str
    encrypted_token: str
    issued_at: str  # ISO 8601, with its offset


class Store:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The login callback stores its token from a server thread while the main thread waits.
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} was written by a newer niftybaskets (schema {version}, this one knows "
                f"{len(MIGRATIONS)}); update the code or use another DATA_DIR"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {migration} PRAGMA user_version = {number}; COMMIT;")

    def close(self) -> None:
        self.db.close()

    # -- Kite access tokens ---------------------------------------------------------------------

    def save_token(self, token: StoredToken) -> None:
        self.db.execute(
            """INSERT INTO kite_tokens (user_id, user_name, encrypted_token, issued_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET user_name = excluded.user_name,
                 encrypted_token = excluded.encrypted_token, issued_at = excluded.issued_at""",
            (token.user_id, token.user_name, token.encrypted_token, token.issued_at),
        )

    def tokens(self) -> list[StoredToken]:
        """Every stored token, sorted by user id."""
        rows = self.db.execute("SELECT * FROM kite_tokens ORDER BY user_id").fetchall()
        return [StoredToken(**dict(row)) for row in rows]

    def delete_token(self, user_id: str) -> None:
        self.db.execute("DELETE FROM kite_tokens WHERE user_id = ?", (user_id,))
