import json
import stat

import pytest
from cryptography.fernet import Fernet

from niftybaskets.config import ConfigError
from niftybaskets.encryption import (
    ArtifactError,
    TokenArtifact,
    decrypt,
    encrypt,
    fernet_from_key,
    read_artifact,
    write_artifact,
)


def test_tokens_round_trip_and_another_key_cannot_read_them():
    fernet = fernet_from_key(Fernet.generate_key().decode())
    sealed = encrypt(fernet, "access-token-123")
    assert "access-token-123" not in sealed
    assert decrypt(fernet, sealed) == "access-token-123"
    assert decrypt(fernet_from_key(Fernet.generate_key().decode()), sealed) is None
    assert decrypt(fernet, "garbage") is None


@pytest.mark.parametrize(("key", "message"), [("", "ENCRYPTION_KEY is not set"), ("short", "not a Fernet key")])
def test_bad_keys_are_configuration_errors(key, message):
    with pytest.raises(ConfigError, match=message):
        fernet_from_key(key)


def test_the_artifact_is_owner_only_and_holds_no_plaintext(tmp_path):
    fernet = fernet_from_key(Fernet.generate_key().decode())
    artifact = TokenArtifact("ZP0001", "2026-11-23T08:30:00+05:30", encrypt(fernet, "access-token-123"))
    path = tmp_path / "kite-token.json"
    path.write_text("an older file")
    path.chmod(0o644)
    write_artifact(path, artifact)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "access-token-123" not in path.read_text()
    assert read_artifact(path) == artifact
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps({"format": "other"}), "not a niftybaskets-kite-token/1"),
        (json.dumps({"format": "niftybaskets-kite-token/1", "user_id": "A"}), "lacks"),
        (
            json.dumps({"format": "niftybaskets-kite-token/1", "user_id": "A", "issued_at": "soon", "token": "x"}),
            "issued_at",
        ),
        ("x" * 20000, "too large"),
    ],
)
def test_broken_artifacts_are_refused(tmp_path, content, message):
    path = tmp_path / "token.json"
    path.write_text(content)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)


def test_a_missing_artifact_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="cannot read"):
        read_artifact(tmp_path / "absent.json")
