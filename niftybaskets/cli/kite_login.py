"""Log in to Zerodha Kite once a day, and keep the access token encrypted for the unattended jobs.

Without options: serve the redirect URL (KITE_REDIRECT_URL, default http://127.0.0.1:8080/callback),
print a login link, open the browser, and store the token when Kite sends you back.
"""

from __future__ import annotations

import argparse
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet
from kiteconnect import exceptions as kite_errors
from requests import RequestException
from rich.console import Console
from rich.markup import escape

from niftybaskets.actions import mask
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import Settings, load_settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.errors import DONE, InputError, NiftyError
from niftybaskets.github import TOKEN_WORKFLOW, GitHub
from niftybaskets.kite.handover import export_token, import_token, push_token
from niftybaskets.kite.login import run_login
from niftybaskets.kite.sessions import KiteSession, NoSessionError, Sessions, login_command
from niftybaskets.store import TokenStore
from niftybaskets.webserver import PortInUseError

ENVIRONMENT = [
    "KITE_API_KEY",
    "KITE_API_SECRET",
    "KITE_API_ROOT",
    "KITE_REDIRECT_URL",
    "KITE_LOGIN_URL",
    "KITE_ACCESS_TOKEN",
    "ENCRYPTION_KEY",
    "DATA_DIR",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
]
EXAMPLES = [
    "python3 scripts/kite_login.py",
    "python3 scripts/kite_login.py --push",
    "python3 scripts/kite_login.py --export kite-token.json --quiet",
    "python3 scripts/kite_login.py --import kite-token.json",
]
NOTE = "Set up the Kite app first: README_REBALANCING.md. Nothing this prints contains a token or key."


def port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: a whole number from 1 to 65535")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=ENVIRONMENT, examples=EXAMPLES, note=NOTE)
    parser.add_argument(
        "--port", type=port_number, help="port of the callback server (default: KITE_REDIRECT_URL's, 8080)"
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the login link; do not open a browser")
    parser.add_argument("--quiet", action="store_true", help="never prompt: take the first logged-in user by user id")
    parser.add_argument(
        "--timeout", type=seconds, default=300.0, help="seconds to wait for the login (default: %(default)g)"
    )
    parser.add_argument("--user-id", help="the Zerodha user id to use, when several are logged in")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--export", type=Path, metavar="FILE", help="write the encrypted token file (logs in if needed)"
    )
    action.add_argument("--import", dest="import_from", type=Path, metavar="FILE", help="store the token from FILE")
    action.add_argument("--list", action="store_true", help="list the stored logins that Kite still accepts")
    action.add_argument(
        "--push",
        action="store_true",
        help="send the encrypted token to your fork's kite-token workflow for the rebalance job (logs in if "
        "needed; GITHUB_TOKEN or GH_TOKEN, and GITHUB_REPOSITORY or this clone's origin remote)",
    )
    return parser


def show_link(console: Console) -> Callable[[str], None]:
    def show(url: str) -> None:
        # A clickable OSC-8 link where the terminal supports it, and the plain URL always.
        console.print(f"Log in to Kite: [link={url}]{escape(url)}[/link]", soft_wrap=True)
        if console.is_terminal:
            console.print(url, markup=False, highlight=False, soft_wrap=True)

    return show


class KiteLogin:
    """One run of the script: its options, and the stored logins they act on."""

    def __init__(
        self, args: argparse.Namespace, settings: Settings, store: TokenStore, fernet: Fernet, console: Console
    ) -> None:
        self.args = args
        self.settings = settings
        self.fernet = fernet
        self.console = console
        self.sessions = Sessions(settings, store, fernet, say=self.say)

    def say(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def run(self) -> int:
        args = self.args
        if args.import_from is not None:
            self.import_(args.import_from)
        elif args.list:
            self.list()
        elif args.export is None and not args.push:
            self.login()
        elif args.export is not None:
            self.export(args.export, self.session_to_send())
        else:
            github = GitHub.from_settings(self.settings, Path.cwd())  # its settings checked before any login
            self.push(self.session_to_send(), github)
        return DONE

    def login(self) -> KiteSession:
        args = self.args
        try:
            session = run_login(
                self.settings,
                self.sessions,
                args.port,
                None if args.no_browser else webbrowser.open,
                args.timeout,
                self.say,
                show_link(self.console),
            )
        except PortInUseError as error:
            raise PortInUseError(
                f"{error}. Use --port with the matching KITE_REDIRECT_URL registered in your Kite app."
            ) from None
        self.say(f"Logged in as {session.user_id} ({session.user_name}); the token is stored encrypted.")
        if args.user_id and session.user_id != args.user_id:
            raise InputError(
                f"you logged in as {session.user_id}, not {args.user_id}; log in with that user's Zerodha ID"
            )
        return session

    def session_to_send(self) -> KiteSession:
        """The login to export or push: --user-id's, the one stored (a choice among several), else a new one."""
        user_id = self.args.user_id
        if self.args.quiet:
            return self.sessions.require(user_id, quiet=True)
        session = self.sessions.choose(user_id, ask=input)
        if session is not None:
            return session
        if any(not user_id or user == user_id for user in self.sessions.mismatched):
            raise NoSessionError(f"No valid Kite login: {self.sessions.mismatch_advice(user_id)}")
        self.say("No valid login stored: logging in first.")
        self.login()
        return self.sessions.require(user_id, quiet=True)

    def export(self, path: Path, session: KiteSession) -> None:
        export_token(session, self.fernet, path)
        self.say(
            f"Wrote the encrypted token of {session.user_id} to {path} (mode 0600); it works until about 06:00 IST."
        )

    def push(self, session: KiteSession, github: GitHub) -> None:
        push_token(session, self.fernet, github)
        self.say(
            f"Sent the encrypted token of {session.user_id} to {github.repository} ({TOKEN_WORKFLOW}); "
            f"the rebalance workflow can use it until about 06:00 IST."
        )

    def import_(self, path: Path) -> None:
        session = import_token(path, self.sessions)
        mask(session.access_token)  # under GitHub Actions: hidden in the job's later log lines
        self.say(f"Imported the token of {session.user_id} ({session.user_name}), issued {session.issued_at}.")

    def list(self) -> None:
        sessions = self.sessions.stored()
        advice = self.sessions.mismatch_advice()
        if not sessions and advice:
            raise NoSessionError(advice)
        if not sessions:
            self.say(f"No valid Kite logins stored. Log in with: {login_command()}")
        for session in sessions:
            self.say(f"{session.user_id}  {session.user_name}  (token issued {session.issued_at}, valid)")


def kite_login(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require("kite_api_key", "encryption_key")
    fernet = fernet_from_key(settings.encryption_key.get_secret_value())
    store = TokenStore(settings.store_path)
    try:
        return KiteLogin(args, settings, store, fernet, Console()).run()
    except (RequestException, kite_errors.KiteException) as error:
        raise NiftyError(
            f"could not check the token with Kite at {settings.kite_api_root}: {error or type(error).__name__}"
        ) from None
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv, kite_login)
