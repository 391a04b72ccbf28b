#!/usr/bin/env python3
"""One step of the automated job, as run.sh and the GitHub workflows run it (from the repository's
root, configured by environment variables: see niftybaskets/pipeline.py)."""

import argparse
import sys

from niftybaskets.config import ConfigError, load_settings
from niftybaskets.github import GitHubError
from niftybaskets.pipeline import STEPS, StepError, run_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=STEPS, help="the step to run")
    args = parser.parse_args()
    try:
        return run_step(args.step, load_settings())
    except (ConfigError, StepError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
