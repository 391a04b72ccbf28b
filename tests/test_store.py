import multiprocessing
import os
import sqlite3
import stat

import pytest

from niftybaskets.paper.storage import Storage
from niftybaskets.store import MIGRATIONS, Store, StoredToken, StoreError


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
    with pytest.raises(StoreError, match="newer niftybaskets"):
        Store(path)


def _open_store(path: str, barrier, answers) -> None:
    barrier.wait()  # every process opens the new file at the same moment
    try:
        Store(path).close()
        answers.put("ok")
    except Exception as error:  # reported to the test
        answers.put(f"{type(error).__name__}: {error}")


def test_first_runs_at_once_on_a_new_data_dir_create_the_store_once(tmp_path):
    context = multiprocessing.get_context("fork")
    for trial in range(4):
        path = tmp_path / f"data{trial}" / "niftybaskets.sqlite"
        barrier, answers = context.Barrier(8), context.Queue()
        processes = [context.Process(target=_open_store, args=(str(path), barrier, answers)) for _ in range(8)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [answers.get(timeout=5) for _ in processes] == ["ok"] * 8
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_store_and_its_folder_are_private_to_this_user(tmp_path):
    path = tmp_path / "data" / "niftybaskets.sqlite"
    store = Store(path)
    store.save_token(StoredToken("ZP0001", "A", "sealed", "2026-11-23T08:00:00+05:30"))
    assert mode(tmp_path / "data") == 0o700
    for each in (path, f"{path}-wal", f"{path}-shm"):
        assert mode(each) == 0o600, each
    store.close()
    path.chmod(0o644)  # left by an older version
    Store(path).close()
    assert mode(path) == 0o600


def test_the_paper_exchanges_database_is_private_too(tmp_path):
    path = tmp_path / "paper" / "exchange.sqlite"
    storage = Storage(path)
    assert mode(path) == 0o600 and mode(f"{path}-wal") == 0o600
    storage.close()


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00"])
def test_a_damaged_file_is_a_store_error_saying_to_move_it_aside(tmp_path, content):
    path = tmp_path / "niftybaskets.sqlite"
    damaged = content + os.urandom(8192)
    path.write_bytes(damaged)
    with pytest.raises(StoreError, match=r"is damaged .*move it aside"):
        Store(path)
    assert path.read_bytes() == damaged
