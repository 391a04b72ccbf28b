#!/usr/bin/env python3
"""Research an index's stocks with Gemini: see niftybaskets/cli/analyze_stocks.py or --help."""

import sys

from niftybaskets.cli.analyze_stocks import main

if __name__ == "__main__":
    sys.exit(main())
