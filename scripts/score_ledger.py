#!/usr/bin/env python3
"""Score the published baskets against the market: see niftybaskets/cli/score_ledger.py or --help."""

import sys

from niftybaskets.cli.score_ledger import main

if __name__ == "__main__":
    sys.exit(main())
