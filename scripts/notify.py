#!/usr/bin/env python3
"""Send notifications (a test, the Kite login reminder): see niftybaskets/cli/notify.py or --help."""

import sys

from niftybaskets.cli.notify import main

if __name__ == "__main__":
    sys.exit(main())
