"""Stored tokens: checked with Kite before use, deleted when dead or undecryptable, chosen per user."""

import pytest
import requests
from cryptography.fernet import Fernet

from niftybaskets.config import ConfigError
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions
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
