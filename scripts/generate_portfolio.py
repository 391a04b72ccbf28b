#!/usr/bin/env python3
"""Pick and publish a basket from the forecasts: see niftybaskets/cli/generate_portfolio.py or --help."""

import sys

from niftybaskets.cli.generate_portfolio import main

if __name__ == "__main__":
    sys.exit(main())
