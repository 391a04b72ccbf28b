"""What `scripts/kite_login.py` does: log in, export or import the token file, list logins."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from pathlib import Path

from kiteconnect import exceptions as kite_errors
from requests import RequestException
from rich.console import Console
from rich.markup import escape

from niftybaskets.actions import mask
from niftybaskets.config import ConfigError, Settings
from niftybaskets.encryption import (
    ArtifactError,
    TokenArtifact,
    artifact_text,
    decrypt,
    encrypt,
    fernet_from_key,
    read_artifact,
    write_artifact,
)
from niftybaskets.github import TOKEN_WORKFLOW, GitHub, GitHubError
from niftybaskets.kite.login import run_login
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions, login_command
from niftybaskets.store import Store
from niftybaskets.webserver import PortInUseError


def show_link(console: Console) -> Callable[[str], None]:
    def show(url: str) -> None:
        # A clickable OSC-8 link where the terminal supports it, and the plain URL always.
        console.print(f"Log in to Kite: [link={url}]{escape(url)}[/link]", soft_wrap=True)
        if console.is_terminal:
            console.print(url, markup=False, highlight=False, soft_wrap=True)

    return show


class Helper:
    def __init__(
        self, settings: Settings, console: Console, errors: Console, ask: Callable[[str], str] = input
    ) -> None:
        self.settings = settings
        self.console = console
        self.errors = errors
        self.ask = ask
        settings.require("kite_api_key", "encryption_key")
        self.fernet = fernet_from_key(settings.encryption_key.get_secret_value())
        self.store = Store(settings.store_path)
        self.sessions = Sessions(settings, self.store, self.fernet, say=self.say)

    def say(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def error(self, message: str) -> None:
        self.errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True, style="red")

    def login(self, port: int | None, browser: bool, timeout: float, user_id: str | None) -> int:
        try:
            result = run_login(
                self.settings,
                self.sessions,
                port,
                webbrowser.open if browser else None,
                timeout,
                self.say,
                show_link(self.console),
            )
        except PortInUseError as error:
            self.error(f"{error}. Use --port with the matching KITE_REDIRECT_URL registered in your Kite app.")
            return 2
        except KeyboardInterrupt:
            self.error("login cancelled.")
            return 1
        if result.session is None:
            self.error(result.error or "the login did not complete")
            return result.exit_code
        session = result.session
        self.say(f"Logged in as {session.user_id} ({session.user_name}); the token is stored encrypted.")
        if user_id and session.user_id != user_id:
            self.error(f"you logged in as {session.user_id}, not {user_id}; log in with that user's Zerodha ID")
            return 2
        return 0

    def _artifact(self, session: KiteSession) -> TokenArtifact:
        return TokenArtifact(session.user_id, session.issued_at, encrypt(self.fernet, session.access_token))

    def export(self, path: Path, session: KiteSession) -> int:
        try:
            write_artifact(path, self._artifact(session))
        except OSError as error:
            self.error(f"cannot write {path}: {error.strerror}")
            return 2
        self.say(
            f"Wrote the encrypted token of {session.user_id} to {path} (mode 0600); it works until about 06:00 IST."
        )
        return 0

    def push(self, session: KiteSession, github: GitHub) -> int:
        """Hand the encrypted token to the fork's kite-token workflow, which keeps it for a day."""
        try:
            github.dispatch(
                TOKEN_WORKFLOW, github.default_branch(), {"token_file": artifact_text(self._artifact(session))}
            )
        except GitHubError as error:
            self.error(str(error))
            return 1
        self.say(
            f"Sent the encrypted token of {session.user_id} to {github.repository} ({TOKEN_WORKFLOW}); "
            f"the rebalance workflow can use it until about 06:00 IST."
        )
        return 0

    def import_(self, path: Path) -> int:
        try:
            artifact = read_artifact(path)
        except ArtifactError as error:
            self.error(str(error))
            return 2
        access_token = decrypt(self.fernet, artifact.encrypted_token)
        if access_token is None:
            self.error(f"{path} was encrypted with another ENCRYPTION_KEY; use the same key on both machines")
            return 2
        mask(access_token)
        profile = self.sessions.profile(access_token)
        if profile is None:
            self.error(
                f"Kite refuses the token in {path} (user {artifact.user_id}, issued {artifact.issued_at}): it has "
                f"expired, or was issued for another API key than KITE_API_KEY; check KITE_API_KEY, or log in "
                f"again ({login_command(artifact.user_id)}) and export a new file"
            )
            return 2
        if profile["user_id"] != artifact.user_id:
            self.error(f"{path} says user {artifact.user_id} but the token belongs to {profile['user_id']}")
            return 2
        session = KiteSession(profile["user_id"], profile["user_name"], access_token, artifact.issued_at)
        self.sessions.save(session, sealed=artifact.encrypted_token)
        self.say(f"Imported the token of {session.user_id} ({session.user_name}), issued {session.issued_at}.")
        return 0

    def list(self) -> int:
        sessions = self.sessions.stored()
        advice = self.sessions.mismatch_advice()
        if not sessions and advice:
            self.error(advice)
            return 2
        if not sessions:
            self.say(f"No valid Kite logins stored. Log in with: {login_command()}")
            return 0
        for session in sessions:
            self.say(f"{session.user_id}  {session.user_name}  (token issued {session.issued_at}, valid)")
        return 0


def run_helper(
    settings: Settings,
    console: Console,
    errors: Console,
    *,
    port: int | None,
    browser: bool,
    quiet: bool,
    timeout: float,
    user_id: str | None,
    export: Path | None,
    import_from: Path | None,
    list_users: bool,
    push: bool = False,
) -> int:
    try:
        helper = Helper(settings, console, errors)
    except ConfigError as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True, style="red")
        return 2
    try:
        if import_from is not None:
            return helper.import_(import_from)
        if list_users:
            return helper.list()
        if export is None and not push:
            return helper.login(port, browser, timeout, user_id)
        github = GitHub.from_settings(settings, Path.cwd()) if push else None  # its settings, before any login
        if quiet:
            session = helper.sessions.require(user_id, quiet=True)
        else:
            session = helper.sessions.choose(user_id, ask=helper.ask)
            if session is None and any(not user_id or user == user_id for user in helper.sessions.mismatched):
                raise NoSessionError(f"No valid Kite login: {helper.sessions.mismatch_advice(user_id)}")
            if session is None:
                helper.say("No valid login stored: logging in first.")
                status = helper.login(port, browser, timeout, user_id)
                if status != 0:
                    return status
                session = helper.sessions.require(user_id, quiet=True)
        if export is not None:
            return helper.export(export, session)
        return helper.push(session, github)
    except (ConfigError, NoSessionError) as error:
        helper.error(str(error))
        return 2
    except (RequestException, kite_errors.KiteException) as error:
        helper.error(
            f"could not check the token with Kite at {settings.kite_api_root}: {error or type(error).__name__}"
        )
        return 1
    finally:
        helper.store.close()
