#!/usr/bin/env python3
"""Log in to Zerodha Kite once a day: see niftybaskets/cli/kite_login.py or --help."""

import sys

from niftybaskets.cli.kite_login import main

if __name__ == "__main__":
    sys.exit(main())
