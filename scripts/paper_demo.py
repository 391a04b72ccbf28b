#!/usr/bin/env python3
"""Trade the sample basket on a paper account: the quick-start demo, offline, no real money."""

import argparse
import sys
from pathlib import Path

from rich.console import Console

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.paper.account_file import AccountFileError
from niftybaskets.paper.demo import run_demo
from niftybaskets.paper.serve import REPOSITORY, SAMPLE_ACCOUNT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--account", type=Path, default=SAMPLE_ACCOUNT, help="paper account file (default: %(default)s)"
    )
    parser.add_argument(
        "--basket",
        type=Path,
        default=REPOSITORY / "examples" / "sample_basket.json",
        help="basket (default: %(default)s)",
    )
    args = parser.parse_args()
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.basket.is_file():
        print(f"error: no basket file at {args.basket}", file=sys.stderr)
        return 2
    try:
        return run_demo(args.account, args.basket, settings.data_dir / "paper" / "demo.sqlite", Console())
    except AccountFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
