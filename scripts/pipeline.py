#!/usr/bin/env python3
"""One step of the automated job: see niftybaskets/cli/pipeline.py or --help."""

import sys

from niftybaskets.cli.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
