"""What every script shares: the options every script takes, the environment it reads listed in its
--help, and one way of ending — the message with its next step and the exit code of README.md."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

from niftybaskets.errors import BAD_INPUT, FAILED, INTERRUPTED, NiftyError

# Each variable a script reads, said once; a script's --help lists the ones it uses.
ENVIRONMENT = {
    "KITE_API_KEY": "your Kite Connect app's API key",
    "KITE_API_SECRET": "your Kite Connect app's API secret",
    "KITE_API_ROOT": "Kite's API (default https://api.kite.trade; a paper exchange's URL to paper trade)",
    "KITE_REDIRECT_URL": "the app's redirect URL (default http://127.0.0.1:8080/callback)",
    "KITE_LOGIN_URL": "Kite's login page, when not the API root's own",
    "KITE_ACCESS_TOKEN": "use this access token instead of the stored login",
    "ENCRYPTION_KEY": "the Fernet key that encrypts stored and exported tokens",
    "GEMINI_API_KEYS": "Gemini API keys, comma-separated (GEMINI_API_KEY for one)",
    "GEMINI_MODEL": "a Gemini model instead of the prompt files' own",
    "GEMINI_BASE_URL": "Gemini's API, when not Google's",
    "MARKET_DATA_SOURCES": "price and index-list sources, in the order asked (default nse,niftyindices,yahoo)",
    "NSE_BASE_URL": "NSE's site (default https://www.nseindia.com)",
    "NIFTY_INDICES_BASE_URL": "NSE Indices' constituent files",
    "YAHOO_BASE_URL": "Yahoo Finance's chart API",
    "NSE_EXTRA_HOLIDAYS": "trading holidays to add to the calendar, YYYY-MM-DD, comma-separated",
    "DATA_DIR": "where the SQLite files, tokens and logs live (default data)",
    "DOCS_DIR": "the published site's folder (default docs)",
    "GITHUB_TOKEN": "a token for your fork (GH_TOKEN also read)",
    "GITHUB_REPOSITORY": "owner/name of your fork (default: this clone's origin)",
    "GITHUB_API_URL": "GitHub's API, for GitHub Enterprise",
    "NOTIFY_URLS": "apprise URLs of the channels to notify, space- or comma-separated (a secret)",
    "NOTIFY_LEVEL": "all (the default), or problems: failures, refusals, money left unspent, reminders",
}


class ToStderr(logging.StreamHandler):
    """Log lines to whatever sys.stderr is when they come: the pipeline and the tests replace it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


def package_version() -> str:
    try:
        return version("niftybaskets")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def script_parser(
    doc: str | None,
    *,
    environment: Sequence[str],
    examples: Sequence[str],
    note: str = "",
    extra_environment: dict[str, str] | None = None,
) -> argparse.ArgumentParser:
    """A script's parser: its docstring, the shared options, and an epilog with the environment
    variables it reads (from ENVIRONMENT, or `extra_environment` for a script's own) and examples."""
    described = {**ENVIRONMENT, **(extra_environment or {})}
    width = max(len(name) for name in environment) if environment else 0
    lines = []
    if environment:
        lines.append("environment (also read from .env):")
        lines += [f"  {name.ljust(width)}  {described[name]}" for name in environment]
    else:
        lines.append("environment: none read.")
    lines.append("")
    lines.append("examples:" if len(examples) > 1 else "example:")
    lines += [f"  {example}" for example in examples]
    if note:
        lines += ["", note]
    lines += ["", "exit codes: 0 done, 1 failed at run time, 2 bad input or configuration, 130 stopped by Ctrl-C."]
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--version", action="version", version=f"niftybaskets {package_version()}")
    shared.add_argument("-v", "--verbose", action="store_true", help="log more of what is done (and a bug's trace)")
    return argparse.ArgumentParser(
        description=doc,
        epilog="\n".join(lines),
        parents=[shared],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    body: Callable[[argparse.Namespace], int],
    *,
    cancelled: str = "cancelled.",
    log_level: int = logging.WARNING,
) -> int:
    """Parse `argv`, run `body` and turn how it ended into an exit code: a project error prints its
    message (which names the next step), Ctrl-C prints `cancelled`, and anything else is a bug."""
    args = None
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        args = parser.parse_args(argv)
        root.setLevel(logging.INFO if args.verbose and log_level > logging.INFO else log_level)
        if not any(isinstance(handler, ToStderr) for handler in root.handlers):  # a script run by the pipeline
            root.addHandler(ToStderr())
        return body(args)
    except SystemExit as stop:  # argparse: --help and --version (0), a bad option (2)
        return stop.code if isinstance(stop.code, int) else BAD_INPUT
    except KeyboardInterrupt:
        print(cancelled, file=sys.stderr)
        return INTERRUPTED
    except NiftyError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:
        verbose = args is not None and args.verbose
        if verbose:
            traceback.print_exc()
        where = "the trace above" if verbose else "the trace the same command prints with -v"
        print(
            f"error: unexpected {type(error).__name__}: {error}. This is a bug in niftybaskets: please report it "
            f"with {where}.",
            file=sys.stderr,
        )
        return FAILED
    finally:  # as it was: the pipeline and the tests run scripts one after another in one process
        root.setLevel(level)
        root.handlers[:] = handlers
