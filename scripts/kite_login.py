#!/usr/bin/env python3
"""Log in to Zerodha Kite once a day, and keep the access token encrypted for the unattended jobs.

Without options: serve the redirect URL (KITE_REDIRECT_URL, default http://127.0.0.1:8080/callback),
print a login link, open the browser, and store the token when Kite sends you back.
"""

import argparse
import sys
from pathlib import Path

from rich.console import Console

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.kite.helper import run_helper


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Set up the Kite app first: README_REBALANCING.md. Nothing this prints contains a token or key.",
    )
    parser.add_argument("--port", type=int, help="port of the callback server (default: KITE_REDIRECT_URL's, 8080)")
    parser.add_argument("--no-browser", action="store_true", help="only print the login link; do not open a browser")
    parser.add_argument("--quiet", action="store_true", help="never prompt: take the first logged-in user by user id")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for the login (default: %(default)s)"
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
    args = parser.parse_args()
    if args.port is not None and not 1 <= args.port <= 65535:
        parser.error("--port must be between 1 and 65535")
    if args.timeout <= 0:
        parser.error("--timeout must be above 0")
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return run_helper(
            settings,
            Console(),
            Console(stderr=True),
            port=args.port,
            browser=not args.no_browser,
            quiet=args.quiet,
            timeout=args.timeout,
            user_id=args.user_id,
            export=args.export,
            import_from=args.import_from,
            list_users=args.list,
            push=args.push,
        )
    except KeyboardInterrupt:
        print("cancelled.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
