#!/usr/bin/env python3
"""Build the Pages site: every Markdown file under docs/ becomes an HTML page in _site/."""

import argparse
import sys
from pathlib import Path

from niftybaskets.site.build import build_site


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the site's sources (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("_site"), help="where the site goes (default: %(default)s)")
    args = parser.parse_args()
    if not (args.docs / "index.md").is_file():
        print(f"error: {args.docs}/index.md is missing; run from the repository's root", file=sys.stderr)
        return 2
    try:
        pages = build_site(args.docs, args.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Built {len(pages)} pages into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
