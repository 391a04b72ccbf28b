"""Build the Pages site: every Markdown file under docs/ becomes an HTML page in _site/."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from niftybaskets.cli.common import run, script_parser
from niftybaskets.errors import DONE, InputError
from niftybaskets.site.build import build_site

EXAMPLES = [
    "python3 scripts/build_site.py",
    "python3 scripts/build_site.py --docs docs --out /tmp/site && python3 -m http.server -d /tmp/site",
]


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__, environment=[], examples=EXAMPLES)
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the site's sources (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("_site"), help="where the site goes (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def build(args: argparse.Namespace) -> int:
        if not (args.docs / "index.md").is_file():
            raise InputError(f"{args.docs}/index.md is missing; run from the repository's root")
        try:
            pages = build_site(args.docs, args.out)
        except ValueError as error:  # an --out that would replace or mix with the sources
            raise InputError(str(error)) from None
        print(f"Built {len(pages)} pages into {args.out}")
        return DONE

    return run(build_parser(), argv, build)
