#!/usr/bin/env python3
"""Check the set-up: see niftybaskets/cli/doctor.py or --help."""

import sys

from niftybaskets.cli.doctor import main

if __name__ == "__main__":
    sys.exit(main())
