"""Handing this morning's Kite token to the machine that trades: a token file written here and
imported there, or a run of your fork's kite-token workflow, which keeps the file for the rebalance job.

The token travels Fernet-encrypted with ENCRYPTION_KEY; only the user id and the time it was issued
are readable. An import checks the token with Kite before storing it.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from niftybaskets.encryption import (
    ArtifactError,
    TokenArtifact,
    artifact_text,
    decrypt,
    encrypt,
    read_artifact,
    write_artifact,
)
from niftybaskets.github import TOKEN_WORKFLOW, GitHub
from niftybaskets.kite.sessions import KiteSession, Sessions, login_command


def sealed(session: KiteSession, fernet: Fernet) -> TokenArtifact:
    return TokenArtifact(session.user_id, session.issued_at, encrypt(fernet, session.access_token))


def export_token(session: KiteSession, fernet: Fernet, path: Path) -> None:
    """Write the token file (mode 0600)."""
    try:
        write_artifact(path, sealed(session, fernet))
    except OSError as error:
        raise ArtifactError(f"cannot write {path}: {error.strerror}") from None


def push_token(session: KiteSession, fernet: Fernet, github: GitHub) -> None:
    """Run the fork's kite-token workflow with the token file as its input; GitHubError if GitHub refuses."""
    github.dispatch(TOKEN_WORKFLOW, github.default_branch(), {"token_file": artifact_text(sealed(session, fernet))})


def import_token(path: Path, sessions: Sessions) -> KiteSession:
    """Store the token of a token file once Kite accepts it; ArtifactError says why not."""
    artifact = read_artifact(path)
    access_token = decrypt(sessions.fernet, artifact.encrypted_token)
    if access_token is None:
        raise ArtifactError(f"{path} was encrypted with another ENCRYPTION_KEY; use the same key on both machines")
    profile = sessions.profile(access_token)
    if profile is None:
        raise ArtifactError(
            f"Kite refuses the token in {path} (user {artifact.user_id}, issued {artifact.issued_at}): it has "
            f"expired, or was issued for another API key than KITE_API_KEY; check KITE_API_KEY, or log in "
            f"again ({login_command(artifact.user_id)}) and export a new file"
        )
    if profile["user_id"] != artifact.user_id:
        raise ArtifactError(f"{path} says user {artifact.user_id} but the token belongs to {profile['user_id']}")
    session = KiteSession(profile["user_id"], profile["user_name"], access_token, artifact.issued_at)
    sessions.save(session, sealed=artifact.encrypted_token)
    return session
