#!/usr/bin/env python3
"""Start the paper exchange: see niftybaskets/cli/paper_exchange.py or --help."""

import sys

from niftybaskets.cli.paper_exchange import main

if __name__ == "__main__":
    sys.exit(main())
