"""The project's SQLite files: the main one (tokens, audit trail, research) and the price cache, each
with its own tables, private, migrated in place, and refused when newer or damaged."""

import multiprocessing
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from niftybaskets import price_cache
from niftybaskets.paper.storage import Storage
from niftybaskets.price_cache import PriceCache
from niftybaskets.sqlite import StoreError
from niftybaskets.store import MIGRATIONS, AuditTrail, ResearchStore, StoredToken, TokenStore

OLD_SCHEMA = Path(__file__).parent / "fixtures" / "store_schema_v5.sql"
PRICE_TABLES = {"price_rows", "price_coverage", "corporate_actions", "corporate_action_coverage"}
MAIN_TABLES = {"kite_tokens", "rebalance_runs", "rebalance_orders", "constituents", "forecasts", "llm_calls"}


def test_tokens_are_kept_per_user_and_replaced_on_a_new_login(tmp_path):
    store = TokenStore(tmp_path / "store.sqlite")
    store.save_token(StoredToken("ZP0002", "B", "sealed-b", "2026-11-23T08:00:00+05:30"))
    store.save_token(StoredToken("ZP0001", "A", "sealed-a", "2026-11-23T08:00:00+05:30"))
    store.save_token(StoredToken("ZP0001", "A", "sealed-a2", "2026-11-24T08:00:00+05:30"))
    assert [(t.user_id, t.encrypted_token) for t in store.tokens()] == [("ZP0001", "sealed-a2"), ("ZP0002", "sealed-b")]
    store.delete_token("ZP0001")
    assert [t.user_id for t in store.tokens()] == ["ZP0002"]


def test_the_schema_version_is_recorded_and_a_newer_one_refused(tmp_path):
    for store, migrations in ((TokenStore, MIGRATIONS), (PriceCache, price_cache.MIGRATIONS)):
        path = tmp_path / f"{store.__name__}.sqlite"
        store(path).close()
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(migrations)
            db.execute(f"PRAGMA user_version = {len(migrations) + 1}")
        with pytest.raises(StoreError, match=f"version {len(migrations) + 1}, .* newer niftybaskets"):
            store(path)


def _open_store(path: str, barrier, answers) -> None:
    barrier.wait()  # every process opens the new file at the same moment
    try:
        TokenStore(path).close()
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
    store = TokenStore(path)
    store.save_token(StoredToken("ZP0001", "A", "sealed", "2026-11-23T08:00:00+05:30"))
    assert mode(tmp_path / "data") == 0o700
    for each in (path, f"{path}-wal", f"{path}-shm"):
        assert mode(each) == 0o600, each
    store.close()
    path.chmod(0o644)  # left by an older version
    TokenStore(path).close()
    assert mode(path) == 0o600


def test_the_paper_exchanges_database_is_private_too(tmp_path):
    path = tmp_path / "paper" / "exchange.sqlite"
    storage = Storage(path)
    assert mode(path) == 0o600 and mode(f"{path}-wal") == 0o600
    storage.close()


@pytest.mark.parametrize("store", [TokenStore, PriceCache])
@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00"])
def test_a_damaged_file_is_a_store_error_saying_to_move_it_aside(tmp_path, content, store):
    path = tmp_path / "niftybaskets.sqlite"
    damaged = content + os.urandom(8192)
    path.write_bytes(damaged)
    with pytest.raises(StoreError, match=r"is damaged .*move it aside"):
        store(path)
    assert path.read_bytes() == damaged


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_each_new_file_holds_only_its_own_tables(tmp_path):
    for store in (TokenStore, AuditTrail, ResearchStore):
        store(tmp_path / "niftybaskets.sqlite").close()
    PriceCache(tmp_path / "prices.sqlite").close()
    assert tables(tmp_path / "niftybaskets.sqlite") == MAIN_TABLES
    assert tables(tmp_path / "prices.sqlite") == PRICE_TABLES


def written_before_the_split(path: Path, version: int, *rows: tuple[str, tuple]) -> None:
    """A file as niftybaskets wrote both of its SQLite files when they shared one schema (version 4:
    before tokens recorded their API key), holding `rows` (SQL, parameters)."""
    script = OLD_SCHEMA.read_text(encoding="utf-8")
    if version == 4:
        script = script.split("-- migration 5")[0] + "PRAGMA user_version = 4;"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(script)
        for sql, parameters in rows:
            db.execute(sql, parameters)
        db.commit()


@pytest.mark.parametrize("version", [4, 5])
def test_a_price_cache_written_before_it_had_its_own_tables_keeps_its_prices(tmp_path, version):
    path = tmp_path / "prices.sqlite"  # the research workflow's artifact, or a machine's cache
    written_before_the_split(
        path,
        version,
        ("INSERT INTO price_rows VALUES (?, ?, ?, ?, ?, ?)", ("nse", "ALPHA", "2025-08-18", 1.0, 2.0, None)),
        ("INSERT INTO price_coverage VALUES (?, ?, ?, ?, ?)", ("nse", "ALPHA", "2025-08-18", "2025-08-19", "x")),
        ("INSERT INTO corporate_actions VALUES (?, ?, ?)", ("ALPHA", "2025-08-19", "Bonus 1:1")),
        ("INSERT INTO corporate_action_coverage VALUES (?, ?, ?)", ("ALPHA", "2025-08-19", "x")),
    )
    cache = PriceCache(path)
    assert cache.damage() == ""
    assert cache.prices("nse", "ALPHA") == [{"day": "2025-08-18", "open": 1.0, "close": 2.0, "previous_close": None}]
    assert cache.price_coverage("nse", "ALPHA") == ("2025-08-18", "2025-08-19")
    assert cache.corporate_actions("ALPHA") == [{"ex_date": "2025-08-19", "subject": "Bonus 1:1"}]
    assert cache.corporate_action_coverage("ALPHA") == "2025-08-19"
    cache.close()
    assert tables(path) == PRICE_TABLES


@pytest.mark.parametrize("version", [4, 5])
def test_a_main_file_written_before_the_split_keeps_its_logins_runs_and_research(tmp_path, version):
    path = tmp_path / "niftybaskets.sqlite"
    written_before_the_split(
        path,
        version,
        (
            "INSERT INTO kite_tokens (user_id, user_name, encrypted_token, issued_at) VALUES (?, ?, ?, ?)",
            ("ZP0001", "A", "sealed", "2026-11-23T08:00:00+05:30"),
        ),
        (
            "INSERT INTO rebalance_runs (run_id, user_id, basket, mode, started_at) VALUES (?, ?, ?, ?, ?)",
            ("run-1", "ZP0001", "basket.json", "live", "2026-11-23T09:15:00+05:30"),
        ),
        (
            "INSERT INTO rebalance_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("tag-1", "run-1", 1, "SBIN", "BUY", 5, "1", "COMPLETE", 5, 800.0, "", "2026-11-23T09:16:00+05:30"),
        ),
        (
            "INSERT INTO llm_calls VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("r", "forecast", "h", "m", "{}", "2026-11-23T08:00:00+05:30", 1.0, 1, 1, 0, "ok", "{}"),
        ),
    )
    tokens, audit, research = TokenStore(path), AuditTrail(path), ResearchStore(path)
    assert tokens.tokens() == [StoredToken("ZP0001", "A", "sealed", "2026-11-23T08:00:00+05:30")]
    assert [(order["tag"], order["status"]) for order in audit.run_orders("run-1")] == [("tag-1", "COMPLETE")]
    research.save_forecast(
        {
            "run_id": "r",
            "index_name": "NIFTY 50",
            "symbol": "SBIN",
            "created_at": "2026-11-23T08:00:00+05:30",
            "model": "m",
            "horizon_days": 7,
            "last_price": 800.0,
            "target_price": 880.0,
            "gain_percent": 10.0,
            "model_gain_percent": 10.0,
            "reasoning": "",
            "sources": "[]",
        }
    )
    assert [row["symbol"] for row in research.forecasts("NIFTY 50", "2026-01-01")] == ["SBIN"]
    for store in (tokens, audit, research):
        store.close()
    assert tables(path) == MAIN_TABLES


def test_a_price_save_that_fails_half_way_leaves_the_cache_as_it_was(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    kept = [{"day": "2025-08-18", "open": 1.0, "close": 2.0, "previous_close": None}]
    cache.save_prices("nse", "ALPHA", kept, ("2025-08-18", "2025-08-18"), "x")
    unreadable = {"day": "2025-08-20", "open": 1.0}  # no close: the insert fails after the delete and a row
    with pytest.raises(sqlite3.ProgrammingError):
        cache.save_prices("nse", "ALPHA", [{**kept[0], "day": "2025-08-19"}, unreadable], None, "x", replace=True)
    assert cache.prices("nse", "ALPHA") == kept
    cache.save_prices("nse", "ALPHA", [], ("2025-08-18", "2025-08-19"), "x")  # the file is not left locked
    assert cache.price_coverage("nse", "ALPHA") == ("2025-08-18", "2025-08-19")
    cache.close()
