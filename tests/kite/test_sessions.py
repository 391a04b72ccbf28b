"""Stored tokens: checked with Kite before use, deleted when dead or undecryptable, chosen per user."""

import sqlite3
from datetime import datetime, timedelta

import pytest
import requests
from cryptography.fernet import Fernet

from niftybaskets.config import ConfigError
from niftybaskets.encryption import encrypt, fernet_from_key
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions
from niftybaskets.market import IST
from niftybaskets.store import MIGRATIONS, TokenStore
from tests.fakes.clock import FakeClock
from tests.kite.conftest import make_settings


def store_login(world, user_id="ZP0001") -> KiteSession:
    kite = world.paper.embedded.login(user_id)
    profile = kite.profile()
    session = KiteSession(user_id, profile["user_name"], kite.access_token, "2026-11-23T10:00:00+05:30")
    world.sessions.save(session)
    return session


def test_a_valid_stored_token_is_used(world):
    saved = store_login(world)
    [session] = world.sessions.stored()
    assert session == saved
    assert world.sessions.choose() == saved


def test_an_expired_token_is_deleted_and_no_session_remains(world):
    store_login(world)
    requests.post(f"{world.paper.url}/admin/accounts/ZP0001/expire-sessions", timeout=5)
    assert world.sessions.choose() is None
    assert world.store.tokens() == []
    assert any("has expired; deleted it" in message for message in world.messages)
    with pytest.raises(NoSessionError, match=r"python3 scripts/kite_login\.py"):
        world.sessions.require(quiet=True)


def test_a_token_sealed_with_another_key_is_deleted(world):
    store_login(world)
    other = Sessions(
        world.settings, world.store, fernet_from_key(Fernet.generate_key().decode()), world.messages.append
    )
    assert other.stored() == []
    assert world.store.tokens() == []
    assert any("cannot be decrypted" in message for message in world.messages)


def test_quiet_mode_takes_the_first_user_by_id_and_says_which(world):
    store_login(world, "ZP0002")
    store_login(world, "ZP0001")
    chosen = world.sessions.choose(quiet=True, ask=lambda _: pytest.fail("quiet mode must not prompt"))
    assert chosen.user_id == "ZP0001"
    assert any("Using ZP0001" in message and "ZP0002" in message for message in world.messages)


def test_interactive_mode_lists_the_users_and_asks(world):
    store_login(world, "ZP0001")
    store_login(world, "ZP0002")
    answers = iter(["7", "2"])
    chosen = world.sessions.choose(ask=lambda prompt: next(answers))
    assert chosen.user_id == "ZP0002"
    listing = "\n".join(world.messages)
    assert "1. ZP0001" in listing and "2. ZP0002  Family Member" in listing
    assert "Type a number from 1 to 2." in listing


def test_user_id_picks_one_of_several(world):
    store_login(world, "ZP0001")
    store_login(world, "ZP0002")
    assert world.sessions.choose("ZP0002").user_id == "ZP0002"
    assert world.sessions.choose("ZP9999") is None


def test_kite_access_token_overrides_the_store_and_is_still_checked(world, tmp_path):
    stored = store_login(world, "ZP0001")
    other = world.paper.embedded.login("ZP0002")
    settings = make_settings(world.paper.url, tmp_path, world.port, kite_access_token=other.access_token)
    sessions = Sessions(settings, world.store, world.sessions.fernet, world.messages.append)
    assert sessions.choose().user_id == "ZP0002"
    assert stored.access_token != other.access_token
    with pytest.raises(ConfigError, match="belongs to ZP0002, not ZP0001"):
        sessions.choose("ZP0001")
    dead = make_settings(world.paper.url, tmp_path, world.port, kite_access_token="deadbeef")
    with pytest.raises(ConfigError, match="KITE_ACCESS_TOKEN is set but Kite refuses it"):
        Sessions(dead, world.store, world.sessions.fernet, world.messages.append).choose()


def test_tokens_never_reach_the_messages_or_reprs(world):
    session = store_login(world)
    world.sessions.choose()
    requests.post(f"{world.paper.url}/admin/accounts/ZP0001/expire-sessions", timeout=5)
    world.sessions.choose()
    assert session.access_token not in "\n".join(world.messages)
    assert session.access_token not in repr(session)


def test_a_wrong_api_key_neither_deletes_nor_uses_a_good_stored_login(world, tmp_path):
    saved = store_login(world)
    typo = make_settings(world.paper.url, tmp_path, world.port, kite_api_key="paperkee")
    sessions = Sessions(typo, world.store, world.sessions.fernet, world.messages.append)
    assert sessions.stored() == []
    with pytest.raises(NoSessionError, match="the API key does not match the stored login of ZP0001"):
        sessions.require(quiet=True)
    assert [token.user_id for token in world.store.tokens()] == ["ZP0001"]
    assert not any("expired" in message or "deleted" in message for message in world.messages)
    assert world.sessions.require(quiet=True) == saved  # with the right key, the same login works


def test_a_login_for_kite_is_kept_when_the_same_key_points_at_another_exchange(world, tmp_path, make_paper):
    """The real API key stays exported while KITE_API_ROOT points at a paper exchange: that exchange
    refuses the real login, which must not delete it."""
    saved = store_login(world)
    other = make_paper("other.sqlite")  # same api_key, another exchange: it refuses this login
    elsewhere = make_settings(other.url, tmp_path, world.port)
    sessions = Sessions(elsewhere, world.store, world.sessions.fernet, world.messages.append)
    assert sessions.stored() == []
    assert sessions.mismatched == ["ZP0001"]
    assert [token.user_id for token in world.store.tokens()] == ["ZP0001"]
    assert world.sessions.require(quiet=True) == saved


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=IST)


def legacy_store(world, tmp_path, tokens: dict[str, tuple[str, str]]) -> TokenStore:
    """A store written before tokens recorded their API key (schema 1), with `tokens`
    {user_id: (access_token, issued_at)}, opened (and migrated) by this version."""
    path = tmp_path / "legacy.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        for user_id, (token, issued_at) in tokens.items():
            sealed = encrypt(world.sessions.fernet, token)
            db.execute("INSERT INTO kite_tokens VALUES (?, ?, ?, ?)", (user_id, "Someone", sealed, issued_at))
        db.execute("PRAGMA user_version = 1")
    db.close()
    return TokenStore(path)


def test_logins_stored_before_keys_were_recorded_are_adopted_or_kept_unless_surely_dead(world, tmp_path):
    from niftybaskets.kite.sessions import api_key_digest  # new with the recorded keys

    alive = world.paper.embedded.login("ZP0001").access_token
    ended = world.paper.embedded.login("ZP0002").access_token
    store = legacy_store(
        world,
        tmp_path,
        {"ZP0001": (alive, "2026-11-23T08:00:00+05:30"), "ZP0002": (ended, "2026-11-23T08:00:00+05:30")},
    )
    requests.post(f"{world.paper.url}/admin/accounts/ZP0002/expire-sessions", timeout=5)
    sessions = Sessions(world.settings, store, world.sessions.fernet, world.messages.append, clock=FakeClock(NOW))
    assert [session.user_id for session in sessions.stored()] == ["ZP0001"]
    by_user = {token.user_id: token for token in store.tokens()}
    digest = api_key_digest("paperkey", world.settings.kite_api_root)
    assert by_user["ZP0001"].api_key_digest == digest  # Kite took it with this key
    assert by_user["ZP0002"].api_key_digest == ""  # refused: ended, or another key; not ours to delete
    assert any("Kite refuses the stored login of ZP0002" in message for message in world.messages)
    with pytest.raises(NoSessionError, match="stored login of ZP0002: it has ended, or KITE_API_KEY is not the key"):
        sessions.require("ZP0002", quiet=True)
    next_morning = Sessions(
        world.settings, store, world.sessions.fernet, world.messages.append, clock=FakeClock(NOW + timedelta(days=1))
    )
    assert [session.user_id for session in next_morning.stored()] == ["ZP0001"]
    assert [token.user_id for token in store.tokens()] == ["ZP0001"]  # issued before 06:00 today: dead for sure
    store.close()
