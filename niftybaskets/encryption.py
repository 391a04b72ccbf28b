"""Fernet encryption of access tokens, and the encrypted token artifact a runner job imports.

(DESIGN.md calls this module secrets.py; that name would shadow Python's own `secrets` module.)
The artifact is a small JSON file: its format name, the Zerodha user id, when the token was issued
and the Fernet token. Nothing in it is readable without ENCRYPTION_KEY, and the token inside
dies at about 06:00 IST the next day.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from niftybaskets.config import HOW_TO_SET, ConfigError
from niftybaskets.errors import InputError

ARTIFACT_FORMAT = "niftybaskets-kite-token/1"
ARTIFACT_MAX_BYTES = 16_384


class ArtifactError(InputError, ValueError):
    """The token file cannot be used; the message says why and what to do."""


def fernet_from_key(key: str) -> Fernet:
    if not key:
        raise ConfigError(HOW_TO_SET["encryption_key"])
    try:
        return Fernet(key.encode())
    except ValueError:
        raise ConfigError(
            "ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes); generate a new one"
        ) from None


def encrypt(fernet: Fernet, secret: str) -> str:
    return fernet.encrypt(secret.encode()).decode()


def decrypt(fernet: Fernet, sealed: str) -> str | None:
    """The secret, or None when it was sealed with another key or is damaged."""
    try:
        return fernet.decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


@dataclass(frozen=True)
class TokenArtifact:
    user_id: str
    issued_at: str
    encrypted_token: str


def artifact_text(artifact: TokenArtifact) -> str:
    """The token file's content: JSON, with the token encrypted."""
    return json.dumps(
        {
            "format": ARTIFACT_FORMAT,
            "user_id": artifact.user_id,
            "issued_at": artifact.issued_at,
            "token": artifact.encrypted_token,
        }
    )


def write_artifact(path: Path, artifact: TokenArtifact) -> None:
    """Write the file readable by its owner only (0600), replacing any earlier one atomically."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(artifact_text(artifact) + "\n")
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def read_artifact(path: Path) -> TokenArtifact:
    try:
        size = path.stat().st_size
        text = path.read_text(encoding="utf-8") if size <= ARTIFACT_MAX_BYTES else ""
    except (OSError, UnicodeDecodeError) as error:
        raise ArtifactError(f"cannot read the token file {path}: {getattr(error, 'strerror', error)}") from None
    if size > ARTIFACT_MAX_BYTES:
        raise ArtifactError(f"{path} is too large to be a token file")
    return parse_artifact(text, str(path))


def parse_artifact(text: str, source: str = "the token file") -> TokenArtifact:
    """The token file's fields, checked; `source` names it in the errors."""
    if len(text) > ARTIFACT_MAX_BYTES:
        raise ArtifactError(f"{source} is too large to be a token file")
    try:
        data = json.loads(text)
    except ValueError:
        raise ArtifactError(f"{source} is not a token file (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{source} is not a {ARTIFACT_FORMAT} token file; export one with scripts/kite_login.py")
    fields = {name: data.get(name) for name in ("user_id", "issued_at", "token")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise ArtifactError(f"{source} lacks user_id, issued_at or token")
    try:
        datetime.fromisoformat(fields["issued_at"])
    except ValueError:
        raise ArtifactError(f"{source} has an unreadable issued_at") from None
    return TokenArtifact(fields["user_id"], fields["issued_at"], fields["token"])
