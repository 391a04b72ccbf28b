#!/usr/bin/env python3
"""Make a basket from the recent forecasts: the top N stocks by average expected gain, of which
Gemini picks K with weights; publish it in docs/baskets and link it from docs/index.md."""

import argparse
import logging
import sys

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.research.gemini import Gemini, GeminiKeysRefused
from niftybaskets.research.portfolio import PortfolioError
from niftybaskets.research.publish import publish_basket
from niftybaskets.store import Store, StoreError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-i", "--index", default="NIFTY SMALLCAP 250", help="NSE index name (default: %(default)s)")
    parser.add_argument(
        "-n", "--top-n", type=int, default=20, help="candidates: the N best forecasts (default: %(default)s)"
    )
    parser.add_argument("-k", "--basket-k", type=int, default=5, help="stocks in the basket (default: %(default)s)")
    parser.add_argument(
        "-d", "--since-days", type=float, default=7, help="use forecasts of the last D days (default: %(default)s)"
    )
    parser.add_argument("--horizon-days", type=int, default=7, help="use forecasts of this horizon (default: 7)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log key rests and retries")
    args = parser.parse_args()
    if not 1 <= args.basket_k <= args.top_n <= 500:
        parser.error("need 1 <= K <= N <= 500")
    if not args.since_days > 0:
        parser.error("--since-days must be above 0")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        settings = load_settings()
        settings.require("gemini_keys")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        store = Store(settings.store_path)
    except StoreError as error:  # a bad DATA_DIR or a damaged store
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        gemini = Gemini(settings.gemini_keys, settings.gemini_base_url)
        published = publish_basket(
            store,
            gemini,
            settings.docs_dir,
            args.index,
            args.top_n,
            args.basket_k,
            args.since_days,
            model=settings.gemini_model,
            horizon_days=args.horizon_days,
        )
    except GeminiKeysRefused as error:  # a setting to fix: keys named by number only
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PortfolioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"Published {settings.docs_dir / 'baskets' / published.stem}.json and .md; docs/index.md updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
