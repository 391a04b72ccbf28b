#!/usr/bin/env python3
"""Rebalance a Zerodha account to a basket: see niftybaskets/cli/rebalance_portfolio.py or --help."""

import sys

from niftybaskets.cli.rebalance_portfolio import main

if __name__ == "__main__":
    sys.exit(main())
