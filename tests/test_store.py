import sqlite3

import pytest

from niftybaskets.store import MIGRATIONS, Store, StoredToken


def test_tokens_are_kept_per_user_and_replaced_on_a_new_login(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    store.save_token(StoredToken("ZP0002", "B", "sealed-b", "2026-11-23T08:00:00+05:30"))
    store.save_token(StoredToken("ZP0001", "A", "sealed-a", "2026-11-23T08:00:00+05:30"))
    store.save_token(StoredToken("ZP0001", "A", "sealed-a2", "2026-11-24T08:00:00+05:30"))
    assert [(t.user_id, t.encrypted_token) for t in store.tokens()] == [("ZP0001", "sealed-a2"), ("ZP0002", "sealed-b")]
    store.delete_token("ZP0001")
    assert [t.user_id for t in store.tokens()] == ["ZP0002"]


def test_the_schema_version_is_recorded_and_a_newer_one_refused(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer niftybaskets"):
        Store(path)
