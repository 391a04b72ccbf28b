"""Kite access tokens: kept encrypted in the store, checked with Kite before use, dropped when dead.

A token is good until about 06:00 IST the next day, or until the user logs out or logs in
elsewhere; the only sure test is asking Kite (`GET /user/profile`). Tokens are never printed.

A token works only with the API key it was issued for, and Kite answers the same TokenException
for a dead token and for a live one sent with another key. So each stored token records (as a
SHA-256 digest) the key it was issued for: a token is deleted only when Kite refuses it with that
key; with another KITE_API_KEY it is kept and the mismatch is named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from cryptography.fernet import Fernet
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from niftybaskets.config import ConfigError, Settings
from niftybaskets.encryption import decrypt, encrypt
from niftybaskets.errors import InputError
from niftybaskets.market import IST, Clock, system_clock
from niftybaskets.store import StoredToken, TokenStore

LOGIN_COMMAND = "python3 scripts/kite_login.py"
LOGIN_AND_PUSH = f"{LOGIN_COMMAND} --push"  # the login that reaches the workflows
TOKEN_EXPIRY = time(6, 0)  # IST: every access token issued before the latest 06:00 is dead


@dataclass(frozen=True)
class KiteSession:
    user_id: str
    user_name: str
    access_token: str
    issued_at: str

    def __repr__(self) -> str:  # keeps the token out of logs and tracebacks
        return f"KiteSession(user_id={self.user_id!r}, user_name={self.user_name!r}, issued_at={self.issued_at!r})"


class NoSessionError(InputError):
    """No usable token; the message has the command that logs in."""


def login_command(user_id: str | None = None) -> str:
    return f"{LOGIN_COMMAND} --user-id {user_id}" if user_id else LOGIN_COMMAND


def api_key_digest(api_key: str, api_root: str) -> str:
    """What the store keeps of the API key (and the Kite, or paper exchange, it is for) a token was
    issued with; the key itself stays in .env."""
    return hashlib.sha256(f"{api_root.rstrip('/')}\n{api_key}".encode()).hexdigest()


def latest_expiry(now: datetime) -> datetime:
    """The most recent 06:00 IST at or before `now`: tokens issued before it have expired."""
    local = now.astimezone(IST)
    today = datetime.combine(local.date(), TOKEN_EXPIRY, IST)
    return today if local >= today else today - timedelta(days=1)


class Sessions:
    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        fernet: Fernet,
        say: Callable[[str], None] = lambda message: None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fernet = fernet
        self.say = say
        self.clock = clock
        # Users whose stored login was issued for another API key than KITE_API_KEY (found by `stored`).
        self.mismatched: list[str] = []  # stored logins made with another API key (or Kite)
        self.uncertain: list[str] = []  # stored before keys were recorded, refused: ended, or another key

    def client(self, access_token: str | None = None) -> KiteConnect:
        return KiteConnect(self.settings.kite_api_key, access_token=access_token, root=self.settings.kite_api_root)

    def profile(self, access_token: str) -> dict | None:
        """The user's profile if Kite takes the token; None if Kite says it is dead. Network errors raise."""
        try:
            return self.client(access_token).profile()
        except kite_errors.TokenException:
            return None

    def exchange(self, request_token: str) -> KiteSession:
        """Trade a login's request token for an access token, and keep it encrypted."""
        data = self.client().generate_session(request_token, self.settings.kite_api_secret.get_secret_value())
        session = KiteSession(data["user_id"], data["user_name"], data["access_token"], self.clock().isoformat())
        self.save(session)
        return session

    def save(self, session: KiteSession, sealed: str | None = None) -> None:
        self.store.save_token(
            StoredToken(
                session.user_id,
                session.user_name,
                sealed or encrypt(self.fernet, session.access_token),
                session.issued_at,
                api_key_digest(self.settings.kite_api_key, self.settings.kite_api_root),
            )
        )

    def stored(self, user_id: str | None = None) -> list[KiteSession]:
        """Stored tokens Kite still accepts, by user id; the dead and the undecryptable are deleted.

        A token issued for another API key than KITE_API_KEY is kept (Kite would refuse it with this
        key whether it is alive or not), said so, and its user listed in `self.mismatched`.
        """
        alive = []
        self.mismatched = []
        self.uncertain = []
        current_key = api_key_digest(self.settings.kite_api_key, self.settings.kite_api_root)
        for token in self.store.tokens():
            if user_id and token.user_id != user_id:
                continue
            access_token = decrypt(self.fernet, token.encrypted_token)
            if access_token is None:
                self.store.delete_token(token.user_id)
                self.say(
                    f"The stored token of {token.user_id} cannot be decrypted (ENCRYPTION_KEY changed?); deleted it."
                )
                continue
            if token.api_key_digest and token.api_key_digest != current_key:
                self.mismatched.append(token.user_id)
                self.say(
                    f"The API key does not match the stored login of {token.user_id} (issued {token.issued_at}): "
                    f"it was made with another KITE_API_KEY; kept it."
                )
                continue
            if self.profile(access_token) is None:
                if token.api_key_digest or self._issued_before_expiry(token):
                    self.store.delete_token(token.user_id)
                    self.say(f"The stored token of {token.user_id} (issued {token.issued_at}) has expired; deleted it.")
                else:  # stored before keys were recorded: expired, or issued for another key
                    self.uncertain.append(token.user_id)
                    self.say(
                        f"Kite refuses the stored login of {token.user_id} (issued {token.issued_at}): it has "
                        f"ended, or the API key does not match the stored login; kept it."
                    )
                continue
            session = KiteSession(token.user_id, token.user_name, access_token, token.issued_at)
            if not token.api_key_digest:  # Kite took it with this key: it was issued for this key
                self.save(session, sealed=token.encrypted_token)
            alive.append(session)
        return alive

    def _issued_before_expiry(self, token: StoredToken) -> bool:
        try:
            issued = datetime.fromisoformat(token.issued_at)
        except ValueError:
            return False
        if issued.tzinfo is None:
            issued = issued.replace(tzinfo=IST)
        return issued < latest_expiry(self.clock())

    def mismatch_advice(self, user_id: str | None = None) -> str:
        """Why no stored login works when `stored` found only logins made with another API key ("" if none);
        a login stored before keys were recorded that Kite refuses may simply have ended: said as such."""
        users = [user for user in self.mismatched if not user_id or user == user_id]
        if not users:
            unsure = [user for user in self.uncertain if not user_id or user == user_id]
            return (
                f"Kite refuses the stored login of {', '.join(unsure)}: it has ended, or KITE_API_KEY is not the "
                f"key it was made with: log in again ({login_command(user_id)})"
                if unsure
                else ""
            )
        return (
            f"the API key does not match the stored login of {', '.join(users)}: check KITE_API_KEY (the stored "
            f"login is kept), or log in again with this key: {login_command(user_id)}"
        )

    def choose(
        self, user_id: str | None = None, quiet: bool = False, ask: Callable[[str], str] | None = None
    ) -> KiteSession | None:
        """The session to use: KITE_ACCESS_TOKEN if set, else a valid stored one, else None.

        Several valid users: quiet mode takes the first by user id and says so; otherwise the user
        picks from a list.
        """
        override = self.settings.kite_access_token.get_secret_value()
        if override:
            profile = self.profile(override)
            if profile is None:
                raise ConfigError(
                    f"KITE_ACCESS_TOKEN is set but Kite refuses it (expired, or issued for another KITE_API_KEY?): "
                    f"unset it, or log in with `{login_command(user_id)}`"
                )
            if user_id and profile["user_id"] != user_id:
                raise ConfigError(f"KITE_ACCESS_TOKEN belongs to {profile['user_id']}, not {user_id}")
            self.say(f"Using KITE_ACCESS_TOKEN from the environment ({profile['user_id']}).")
            return KiteSession(profile["user_id"], profile["user_name"], override, self.clock().isoformat())
        sessions = self.stored(user_id)
        if len(sessions) <= 1:
            return sessions[0] if sessions else None
        if quiet:
            others = ", ".join(s.user_id for s in sessions[1:])
            self.say(
                f"Using {sessions[0].user_id} ({sessions[0].user_name}); also logged in: {others} (--user-id picks)."
            )
            return sessions[0]
        return self._pick(sessions, ask)

    def _pick(self, sessions: list[KiteSession], ask: Callable[[str], str] | None) -> KiteSession:
        if ask is None:
            raise ConfigError("several Zerodha users are logged in: pass --user-id, or --quiet to take the first")
        self.say("Logged-in Zerodha users:")
        for number, session in enumerate(sessions, start=1):
            self.say(f"  {number}. {session.user_id}  {session.user_name}  (token issued {session.issued_at})")
        while True:
            try:
                answer = ask(f"Which user? [1-{len(sessions)}]: ").strip()
            except EOFError:
                raise ConfigError("no user chosen; pass --user-id, or --quiet to take the first") from None
            if answer.isdigit() and 1 <= int(answer) <= len(sessions):
                return sessions[int(answer) - 1]
            self.say(f"Type a number from 1 to {len(sessions)}.")

    def require(
        self, user_id: str | None = None, quiet: bool = False, ask: Callable[[str], str] | None = None
    ) -> KiteSession:
        session = self.choose(user_id, quiet, ask)
        if session is None:
            who = f" for {user_id}" if user_id else ""
            advice = self.mismatch_advice(user_id)
            if advice:
                raise NoSessionError(f"No valid Kite login{who}: {advice}")
            raise NoSessionError(f"No valid Kite login{who}. Log in first: {login_command(user_id)}")
        return session
