#!/usr/bin/env python3
"""Build the Pages site from docs/: see niftybaskets/cli/build_site.py or --help."""

import sys

from niftybaskets.cli.build_site import main

if __name__ == "__main__":
    sys.exit(main())
